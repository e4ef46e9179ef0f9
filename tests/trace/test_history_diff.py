"""`roar history` and `roar diff` on real runs."""

from __future__ import annotations

import json

from tests.helpers import run_roar
from tests.trace.conftest import Workspace


def ok(ws: Workspace, *args: str) -> str:
    result = run_roar(*args, cwd=ws.root)
    assert result.code == 0, result.stderr
    return result.stdout


def record(ws: Workspace) -> None:
    ws.write("raw.txt", "1\n")
    ok(ws, "run", "-q", "-n", "prep", "sh", "-c", "cat raw.txt > clean.txt")
    ok(ws, "run", "-q", "-n", "train", "sh", "-c", "cat clean.txt > model.bin")
    ws.write("raw.txt", "2\n")
    ok(ws, "run", "-q", "-n", "prep", "sh", "-c", "cat raw.txt > clean.txt")
    ok(ws, "run", "-q", "-n", "train", "sh", "-c", "cat clean.txt clean.txt > model.bin")


def test_history_shows_what_changed_between_runs(ws: Workspace) -> None:
    record(ws)
    runs = json.loads(ok(ws, "history", "prep", "--json"))
    assert [r["id"] for r in runs] == [3, 1]
    assert [c["field"] for c in runs[0]["changes"]] == ["input raw.txt", "output clean.txt"]
    assert runs[1]["previous"] is None
    text = ok(ws, "history", "train")
    assert "command: sh -c cat clean.txt > model.bin -> sh -c cat clean.txt clean.txt" in text
    assert "first recorded run" in text


def test_history_of_an_unknown_step(ws: Workspace) -> None:
    result = run_roar("history", "nope", cwd=ws.root)
    assert result.code == 2
    assert "no runs of step 'nope'" in result.stderr


def test_diff_two_jobs(ws: Workspace) -> None:
    record(ws)
    doc = json.loads(ok(ws, "diff", "@2", "@4", "--json"))
    fields = {d["field"] for d in doc["differences"]}
    assert fields == {"command", "input clean.txt", "output model.bin"}
    assert "no differences" in ok(ws, "diff", "@1", "@1")


def test_diff_two_artifacts_finds_where_lineages_part(ws: Workspace) -> None:
    record(ws)
    old_model = json.loads(ok(ws, "show", "@2", "--json"))["outputs"][0]["hash"]
    doc = json.loads(ok(ws, "diff", old_model[:12], "model.bin", "--json"))
    forks = doc["forks"]
    assert forks[0]["a"] == "@2"
    assert forks[0]["b"] == "@4"
    assert {d["field"] for d in forks[0]["differences"]} >= {"command"}
    # further up, prep ran the same command on a different source file
    assert [(f["a"], f["b"]) for f in forks[1:]] == [("source raw.txt", "source raw.txt")]


def test_diff_a_job_and_an_artifact_is_refused(ws: Workspace) -> None:
    record(ws)
    result = run_roar("diff", "@1", "model.bin", cwd=ws.root)
    assert result.code == 2
    assert "two jobs or two artifacts" in result.stderr
