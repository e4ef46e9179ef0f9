"""`roar reproduce`: plan, replay in a clean worktree, prove it by hash (real git, real runs)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.helpers import run_roar
from tests.trace.conftest import Workspace

PREP = "import sys\nopen(sys.argv[2], 'w').write(''.join(sorted(open(sys.argv[1]))))\n"


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def recorded(ws: Workspace) -> Workspace:
    """raw.txt (data, untracked) -> prep.py -> clean.txt -> model.txt -> metrics.txt."""
    ws.write("prep.py", PREP)
    _git(ws.root, "add", "prep.py")
    _git(ws.root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "prep")
    ws.write("raw.txt", "3\n1\n2\n")
    for argv in (
        ["python3", "prep.py", "raw.txt", "clean.txt"],
        ["sh", "-c", "head -n 2 clean.txt > model.txt"],
        ["sh", "-c", "wc -l model.txt > metrics.txt"],
    ):
        assert run_roar("run", "-q", *argv, cwd=ws.root).code == 0
    return ws


def _jobs(ws: Workspace) -> int:
    with ws.project.open_store() as store:
        return store.count_jobs()


def test_reproduce_regenerates_deleted_outputs_and_leaves_the_checkout_alone(
    recorded: Workspace,
) -> None:
    root = recorded.root
    expected = {
        name: (root / name).read_bytes() for name in ("clean.txt", "model.txt", "metrics.txt")
    }
    head, branch = _git(root, "rev-parse", "HEAD"), _git(root, "branch", "--show-current")
    status = _git(root, "status", "--porcelain")
    for name in expected:
        (root / name).unlink()

    plan = run_roar("reproduce", "metrics.txt", cwd=root)
    assert plan.code == 0, plan.stderr
    assert "@1 prep" in plan.stdout
    assert "raw.txt" in plan.stdout
    assert "at its path" in plan.stdout
    assert not (root / "metrics.txt").exists()  # the plan changes nothing
    assert _jobs(recorded) == 3

    result = run_roar("reproduce", "metrics.txt", "--run", "-y", cwd=root)
    assert result.code == 0, result.stderr
    assert result.stdout.count(" ok") == 3
    assert {name: (root / name).read_bytes() for name in expected} == expected
    assert (_git(root, "rev-parse", "HEAD"), _git(root, "branch", "--show-current")) == (
        head,
        branch,
    )
    assert _git(root, "status", "--porcelain") == status
    assert len(_git(root, "worktree", "list").splitlines()) == 1  # removed without --keep
    with recorded.project.open_store() as store:
        replays = [j for j in store.list_jobs() if j.kind == "reproduce"]
    assert sorted(j.reproduces_job for j in replays) == [1, 2, 3]


def test_a_step_that_writes_the_time_is_the_first_mismatch(ws: Workspace) -> None:
    assert run_roar("run", "-q", "sh", "-c", "date +%s%N > stamp.txt", cwd=ws.root).code == 0
    assert run_roar("run", "-q", "sh", "-c", "cat stamp.txt > copy.txt", cwd=ws.root).code == 0
    result = run_roar("reproduce", "copy.txt", "--run", "-y", cwd=ws.root)
    assert result.code == 8
    assert "first difference at @1" in result.stderr
    assert "DIFFERS" in result.stdout


def test_a_changed_source_is_named_before_anything_runs(recorded: Workspace) -> None:
    (recorded.root / "raw.txt").write_text("9\n")
    result = run_roar("reproduce", "metrics.txt", "--run", "-y", cwd=recorded.root)
    assert result.code == 8
    assert "raw.txt" in result.stderr
    assert "changed" in result.stderr
    assert _jobs(recorded) == 3  # nothing ran


def test_bad_references(recorded: Workspace) -> None:
    root = recorded.root
    unknown = run_roar("reproduce", "nope.txt", cwd=root)
    assert unknown.code == 2
    assert "no job or artifact matches" in unknown.stderr
    source = run_roar("reproduce", "raw.txt", cwd=root)
    assert source.code == 8
    assert "it is a source" in source.stderr
    with recorded.project.open_store() as store, store.db.write() as cur:
        cur.execute("UPDATE jobs SET git_commit = ?", ("f" * 40,))
    missing = run_roar("reproduce", "metrics.txt", "--run", "-y", cwd=root)
    assert missing.code == 8
    assert "is not in this repository" in missing.stderr
    assert _jobs(recorded) == 3
