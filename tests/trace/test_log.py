"""`roar log`: recent jobs, filters and the JSON shape."""

from __future__ import annotations

import json

from tests.helpers import run_roar
from tests.trace.conftest import Workspace


def test_log_lists_newest_first_with_filters(ws: Workspace) -> None:
    assert "no jobs recorded yet" in run_roar("log", cwd=ws.root).stdout
    run_roar("run", "-q", "-n", "prep", "sh", "-c", "echo a > a.txt", cwd=ws.root)
    run_roar("run", "-q", "-n", "train", "sh", "-c", "cat a.txt > b.txt; exit 2", cwd=ws.root)
    run_roar("run", "-q", "-n", "prep", "sh", "-c", "echo c > a.txt", cwd=ws.root)

    text = run_roar("log", cwd=ws.root).stdout.splitlines()
    assert [line.split()[0] for line in text[1:]] == ["@3", "@2", "@1"]
    assert "exit 2" in text[2]

    rows = json.loads(run_roar("log", "--json", cwd=ws.root).stdout)
    assert set(rows[0]) == {
        "id", "uid", "kind", "step", "command", "exit_code", "started_at", "ended_at",
        "inputs", "outputs", "git_commit", "notes",
    }  # fmt: skip
    assert [(r["id"], r["step"], r["inputs"], r["outputs"]) for r in rows] == [
        (3, "prep", 0, 1),
        (2, "train", 1, 1),
        (1, "prep", 0, 1),
    ]
    by_step = json.loads(run_roar("log", "--json", "--step", "prep", "-n", "1", cwd=ws.root).stdout)
    assert [r["id"] for r in by_step] == [3]
    failed = json.loads(run_roar("log", "--json", "--failed", cwd=ws.root).stdout)
    assert [(r["id"], r["exit_code"]) for r in failed] == [(2, 2)]


def test_log_bad_input(ws: Workspace) -> None:
    result = run_roar("log", "-n", "0", cwd=ws.root)
    assert result.code == 2
    assert "Invalid value" in result.stderr
