"""`roar reproduce`: plan, replay in a clean worktree, prove it by hash (real git, real runs)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from roar.models import Job
from roar.trace.probe_cache import PROBE_FILE
from tests.helpers import ROAR, git, run_roar
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


def test_a_reproduction_probes_the_tracers_when_nothing_is_cached(recorded: Workspace) -> None:
    """The probe then runs on a step's worker thread, where no signal handler can be set
    (it once ended the reproduction with a ValueError)."""
    (recorded.root / ".roar" / PROBE_FILE).unlink()
    (recorded.root / "metrics.txt").unlink()
    result = run_roar("reproduce", "metrics.txt", "--run", "-y", cwd=recorded.root)
    assert result.code == 0, result.stderr
    assert (recorded.root / "metrics.txt").exists()


def test_a_step_that_writes_the_time_is_the_first_mismatch(ws: Workspace) -> None:
    assert run_roar("run", "-q", "sh", "-c", "date +%s%N > stamp.txt", cwd=ws.root).code == 0
    assert run_roar("run", "-q", "sh", "-c", "cat stamp.txt > copy.txt", cwd=ws.root).code == 0
    result = run_roar("reproduce", "copy.txt", "--run", "-y", cwd=ws.root)
    assert result.code == 8
    assert "first difference at @1" in result.stderr
    assert "DIFFERS" in result.stdout


@pytest.mark.parametrize("state", ["changed", "missing"])
def test_an_unusable_source_is_named_before_anything_runs(recorded: Workspace, state: str) -> None:
    raw = recorded.root / "raw.txt"
    if state == "changed":
        raw.write_text("9\n")
    else:
        raw.unlink()
    plan = run_roar("reproduce", "metrics.txt", cwd=recorded.root)
    source_line = next(line for line in plan.stdout.splitlines() if line.startswith("    raw.txt"))
    assert source_line.endswith(f"  {state}")
    result = run_roar("reproduce", "metrics.txt", "--run", "-y", cwd=recorded.root)
    assert result.code == 8
    assert "raw.txt (" in result.stderr
    assert f", {state})" in result.stderr
    assert _jobs(recorded) == 3  # nothing ran
    assert len(_git(recorded.root, "worktree", "list").splitlines()) == 1


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


def _replays(ws: Workspace) -> dict[int, Job]:
    """Reproduce jobs by the id of the job each one replays."""
    with ws.project.open_store() as store:
        return {j.reproduces_job: j for j in store.list_jobs() if j.kind == "reproduce"}


def test_the_recorded_dirty_tree_patch_is_applied_in_the_worktree(recorded: Workspace) -> None:
    root = recorded.root
    (root / "prep.py").write_text(
        PREP.replace("open(sys.argv[1]))", "open(sys.argv[1]), reverse=True)")
    )
    assert run_roar("run", "-q", "python3", "prep.py", "raw.txt", "dirty.txt", cwd=root).code == 0
    assert (root / "dirty.txt").read_text() == "3\n2\n1\n"  # made by the uncommitted edit
    (root / "dirty.txt").unlink()
    status = _git(root, "status", "--porcelain", "--untracked-files=no")
    plan = run_roar("reproduce", "dirty.txt", cwd=root)
    assert "then apply dirty-tree patch" in plan.stdout
    result = run_roar("reproduce", "dirty.txt", "--run", "-y", cwd=root)
    assert result.code == 0, result.stderr
    assert (root / "dirty.txt").read_text() == "3\n2\n1\n"
    assert _git(root, "status", "--porcelain", "--untracked-files=no") == status  # still " M"


def test_build_steps_run_before_pipeline_steps(ws: Workspace) -> None:
    ws.write("raw.txt", "b\na\n")
    assert run_roar("run", "-q", "sh", "-c", "sort raw.txt > sorted.txt", cwd=ws.root).code == 0
    # recorded after the step, at the same commit: a build (compiling, installing) that
    # no step reads from, which reproduction still runs first
    build = run_roar("build", "-q", "-n", "compile", "sh", "-c", "echo so > native.so", cwd=ws.root)
    assert build.code == 0
    plan = run_roar("reproduce", "sorted.txt", cwd=ws.root)
    assert plan.stdout.index("build steps:") < plan.stdout.index("@1 sort")
    assert "@2 compile" in plan.stdout
    result = run_roar("reproduce", "sorted.txt", "--run", "-y", cwd=ws.root)
    assert result.code == 0, result.stderr
    replays = _replays(ws)
    assert replays[2].id < replays[1].id
    assert replays[2].ended_at is not None
    assert replays[2].ended_at <= replays[1].started_at


def test_independent_branches_run_concurrently_with_j2(ws: Workspace) -> None:
    ws.write("raw.txt", "b\na\n")
    for argv in (
        ["sh", "-c", "sleep 1; echo branch-$((1+1)); sort raw.txt > a.txt"],
        ["sh", "-c", "sleep 1; sort -r raw.txt > b.txt"],
        ["sh", "-c", "cat a.txt b.txt > both.txt"],
    ):
        assert run_roar("run", "-q", *argv, cwd=ws.root).code == 0
    plan = run_roar("reproduce", "both.txt", cwd=ws.root)
    assert "(after @1, @2)" in plan.stdout
    result = run_roar("reproduce", "both.txt", "--run", "-y", "-j", "2", cwd=ws.root)
    assert result.code == 0, result.stderr
    assert "[3/3] @3 cat" in result.stderr  # progress, in dependency order
    assert "branch-2" not in result.stdout  # side by side, output goes to a log per step
    (log,) = (ws.root / ".roar" / "runs").glob("reproduce-*/1-*.log")
    assert log.read_text() == "branch-2\n"
    a, b, join = (_replays(ws)[i] for i in (1, 2, 3))
    assert a.ended_at is not None
    assert b.ended_at is not None
    assert a.started_at < b.ended_at  # they overlapped
    assert b.started_at < a.ended_at
    assert join.started_at >= max(a.ended_at, b.ended_at)


SLOW = 'echo $$ > "${MARK:-/dev/null}"; sleep "${DELAY:-0}"; sort raw.txt > out.txt'


def test_a_step_past_its_timeout_is_ended_and_named(ws: Workspace) -> None:
    ws.write("raw.txt", "b\na\n")
    assert run_roar("run", "-q", "sh", "-c", SLOW, cwd=ws.root).code == 0
    started = time.monotonic()
    result = run_roar(
        "reproduce", "out.txt", "--run", "-y", "--step-timeout", "0.5",
        cwd=ws.root, env={"DELAY": "60"},
    )  # fmt: skip
    assert time.monotonic() - started < 30
    assert result.code == 8
    assert "timed out after 0.5 s" in result.stderr
    assert len(_git(ws.root, "worktree", "list").splitlines()) == 1
    assert _replays(ws)[1].notes == "stopped by roar: timed out after 0.5 s"


def test_sigterm_ends_the_running_steps_and_removes_the_worktree(
    ws: Workspace, tmp_path: Path
) -> None:
    ws.write("raw.txt", "b\na\n")
    assert run_roar("run", "-q", "sh", "-c", SLOW, cwd=ws.root).code == 0
    mark = tmp_path / "step.pid"
    proc = subprocess.Popen(
        [ROAR, "reproduce", "out.txt", "--run", "-y"],
        cwd=ws.root,
        env={**os.environ, "DELAY": "60", "MARK": str(mark)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (mark.exists() and mark.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    step_pid = int(mark.read_text())
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 8
    assert "stopped by SIGTERM" in stderr
    with pytest.raises(ProcessLookupError):
        os.kill(step_pid, 0)
    assert len(_git(ws.root, "worktree", "list").splitlines()) == 1


def test_outside_git_run_refuses_unless_in_place(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    root.mkdir()
    assert run_roar("init", cwd=root).code == 0
    (root / "raw.txt").write_text("b\na\n")
    assert run_roar("run", "-q", "sh", "-c", "sort raw.txt > out.txt", cwd=root).code == 0
    (root / "out.txt").unlink()
    refused = run_roar("reproduce", "out.txt", "--run", "-y", cwd=root)
    assert refused.code == 8
    assert "ran outside git" in refused.stderr
    assert "--in-place" in refused.stderr
    assert not (root / "out.txt").exists()
    result = run_roar("reproduce", "out.txt", "--run", "-y", "--in-place", cwd=root)
    assert result.code == 0, result.stderr
    assert (root / "out.txt").read_text() == "a\nb\n"


def test_in_place_is_refused_for_a_job_recorded_at_a_commit(recorded: Workspace) -> None:
    result = run_roar("reproduce", "metrics.txt", "--run", "-y", "--in-place", cwd=recorded.root)
    assert result.code == 8
    assert "only for jobs recorded outside git" in result.stderr
    assert _jobs(recorded) == 3


def _fake_distribution(site: Path, version: str) -> None:
    (site / "fakepkg").mkdir(parents=True, exist_ok=True)
    (site / "fakepkg" / "__init__.py").write_text("VALUE = 'v'\n")
    for old in site.glob("fakepkg-*.dist-info"):
        for file in old.iterdir():
            file.unlink()
        old.rmdir()
    info = site / f"fakepkg-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: fakepkg\nVersion: {version}\n\n")
    (info / "RECORD").write_text("fakepkg/__init__.py,,\n")


def test_packages_are_compared_with_the_environment_the_job_used(
    ws: Workspace, tmp_path: Path
) -> None:
    site = tmp_path / "env" / "lib" / "python3.11" / "site-packages"
    _fake_distribution(site, "1.0")
    env = {"PYTHONPATH": str(site)}
    code = "import fakepkg; open('v.txt', 'w').write(fakepkg.VALUE)"
    assert run_roar("run", "-q", "python3", "-c", code, cwd=ws.root, env=env).code == 0
    same = run_roar("reproduce", "v.txt", cwd=ws.root)
    assert "environment: fakepkg" not in same.stdout  # where the job found it (not in roar's)
    _fake_distribution(site, "2.0")
    changed = run_roar("reproduce", "v.txt", cwd=ws.root)
    assert f"environment: fakepkg 1.0 recorded, 2.0 in {site}" in changed.stdout


def test_a_second_reproduction_replays_the_original_jobs(recorded: Workspace) -> None:
    root = recorded.root
    assert run_roar("run", "-q", "python3", "prep.py", "raw.txt", "clean.txt", cwd=root).code == 0
    for _ in range(2):
        (root / "metrics.txt").unlink()
        result = run_roar("reproduce", "metrics.txt", "--run", "-y", cwd=root)
        assert result.code == 0, result.stderr
    with recorded.project.open_store() as store:
        replays = [j.reproduces_job for j in store.list_jobs() if j.kind == "reproduce"]
    # job 4 re-ran prep after metrics.txt was made: the plan keeps the job 3 saw (@1)
    assert sorted(replays) == [1, 1, 2, 2, 3, 3]


def test_json_gives_the_plan_and_the_result_in_the_documented_shape(recorded: Workspace) -> None:
    import json

    from jsonschema import Draft202012Validator

    schema_path = Path(__file__).resolve().parents[2] / "docs" / "json" / "reproduce.schema.json"
    validator = Draft202012Validator(json.loads(schema_path.read_text()))
    (recorded.root / "metrics.txt").unlink()
    plan = run_roar("reproduce", "metrics.txt", "--json", cwd=recorded.root)
    result = run_roar("reproduce", "metrics.txt", "--json", "--run", "-y", cwd=recorded.root)
    assert result.code == 0, result.stderr
    for document in (json.loads(plan.stdout), json.loads(result.stdout)):
        assert not [e.message for e in validator.iter_errors(document)]
    planned, done = json.loads(plan.stdout), json.loads(result.stdout)
    assert planned["result"] is None
    assert [s["id"] for s in planned["steps"]] == [1, 2, 3]
    assert planned["steps"][2]["needs"] == [2]
    assert planned["sources"][0]["state"] == "at its path"
    assert done["result"]["target_matches"] is True
    assert [s["replays"] for s in done["result"]["steps"]] == [1, 2, 3]
    assert done["result"]["restored"] == ["metrics.txt"]


def test_python_is_compared_with_the_interpreter_the_step_would_start(
    ws: Workspace, tmp_path: Path
) -> None:
    code = "import json; open('p.txt', 'w').write('x')"
    assert run_roar("run", "-q", "python3", "-c", code, cwd=ws.root).code == 0
    same = run_roar("reproduce", "p.txt", cwd=ws.root)
    assert "environment: python" not in same.stdout
    fake = tmp_path / "bin" / "python3"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 3.99.0\n")
    fake.chmod(0o755)
    path = f"{fake.parent}{os.pathsep}{os.environ['PATH']}"
    other = run_roar("reproduce", "p.txt", cwd=ws.root, env={"PATH": path})
    assert "recorded, python3 is 3.99.0 now" in other.stdout


def test_the_plan_replays_the_job_that_wrote_the_path_named(ws: Workspace) -> None:
    """A later copy holds the same content; reproducing the original must not replay it."""
    ws.script("made.py", "open('orig.txt', 'w').write('same\\n')\n")
    git("add", "made.py", cwd=ws.root)
    git("commit", "-qm", "made", cwd=ws.root)
    for args in (
        ("-n", "make", "python3", "made.py"),
        ("-n", "copy", "cp", "orig.txt", "copy.txt"),
    ):
        assert run_roar("run", "-q", *args, cwd=ws.root).code == 0
    original = json.loads(run_roar("reproduce", "orig.txt", "--json", cwd=ws.root).stdout)
    copied = json.loads(run_roar("reproduce", "copy.txt", "--json", cwd=ws.root).stdout)
    assert [s["id"] for s in original["steps"]] == [1]
    assert [s["id"] for s in copied["steps"]] == [1, 2]
