"""`roar status`: changed inputs and changed source code make a job and its downstream stale."""

from __future__ import annotations

import json
import os
import time

from roar.lineage.status import stale_jobs
from tests.helpers import git, run_roar
from tests.trace.conftest import PY, Workspace


def stale(ws: Workspace) -> dict[str, list[str]]:
    result = run_roar("status", "--json", cwd=ws.root)
    assert result.code == 0, result.stderr
    return {row["step"]: row["reasons"] for row in json.loads(result.stdout)}


def build(ws: Workspace) -> None:
    ws.write("raw.txt", "1\n2\n")
    ws.write("side.txt", "x\n")
    ws.script("prep.py", "open('clean.txt', 'w').write(open('raw.txt').read())\n")
    git("add", "prep.py", cwd=ws.root)
    git("commit", "-qm", "prep", cwd=ws.root)
    time.sleep(0.05)
    for args in (
        ("-n", "prep", PY, "prep.py"),
        ("-n", "train", "sh", "-c", "cat clean.txt > model.bin"),
        ("-n", "report", "sh", "-c", "cat model.bin > report.txt"),
        ("-n", "side", "sh", "-c", "cat side.txt > side_out.txt"),
    ):
        assert run_roar("run", "-q", *args, cwd=ws.root).code == 0


def test_up_to_date(ws: Workspace) -> None:
    build(ws)
    assert stale(ws) == {}
    assert "everything is up to date" in run_roar("status", cwd=ws.root).stdout


def test_changed_input_flags_the_job_and_its_downstream_only(ws: Workspace) -> None:
    build(ws)
    (ws.root / "raw.txt").write_text("1\n2\n3\n")
    assert stale(ws) == {
        "prep": ["input raw.txt changed"],
        "train": ["upstream @1 is stale"],
        "report": ["upstream @1 is stale"],
    }
    text = run_roar("status", cwd=ws.root).stdout
    assert "stale @1 prep:" in text
    assert "side" not in text


def test_missing_input(ws: Workspace) -> None:
    build(ws)
    (ws.root / "side.txt").unlink()
    assert stale(ws) == {"side": ["input side.txt is missing"]}


def test_changed_source_code(ws: Workspace) -> None:
    build(ws)
    (ws.root / "prep.py").write_text("open('clean.txt', 'w').write('different')\n")
    found = stale(ws)
    assert found["prep"] == [f"source prep.py changed since {_commit(ws)}"]
    assert found["train"] == ["upstream @1 is stale"]


def _commit(ws: Workspace) -> str:
    return git("rev-parse", "HEAD", cwd=ws.root).strip()[:12]


def test_a_rerun_makes_it_current_again(ws: Workspace) -> None:
    build(ws)
    (ws.root / "raw.txt").write_text("9\n")
    assert run_roar("run", "-q", "-n", "prep", PY, "prep.py", cwd=ws.root).code == 0
    found = stale(ws)
    assert "prep" not in found
    assert found["train"] == ["input clean.txt changed"]


def test_status_api(ws: Workspace) -> None:
    build(ws)
    (ws.root / "side.txt").write_text("y\n")
    with ws.project.open_store() as store:
        result = stale_jobs(store, ws.root)
    assert [(s.job.step, s.reasons) for s in result] == [("side", ("input side.txt changed",))]


def test_a_job_that_runs_git_is_not_stale_after_the_next_commit(ws: Workspace) -> None:
    """git's files (HEAD, refs, index) are not inputs, so committing does not touch it;
    and its reproduction does not stop over a "changed source" .git/HEAD."""
    assert run_roar("run", "-q", "sh", "-c", "git rev-parse HEAD > rev.txt", cwd=ws.root).code == 0
    ws.write("notes.md", "later work\n")
    git("add", "notes.md", cwd=ws.root)
    git("commit", "-qm", "notes", cwd=ws.root)
    assert stale(ws) == {}
    (ws.root / "rev.txt").unlink()
    replay = run_roar("reproduce", "rev.txt", "--run", "-y", cwd=ws.root)
    assert replay.code == 0, replay.stderr
    assert (ws.root / "rev.txt").exists()


def test_an_input_the_job_moved_away_is_not_missing_until_a_new_one_arrives(
    ws: Workspace,
) -> None:
    """A job that files its input away (`mv inbox/x done/x`) leaves it missing by design;
    a new file under the old name is a new input, and the job is stale again."""
    from tests.trace.test_json_shapes import _validator

    inbox = ws.write("inbox/data.csv", "a,b\n")
    past = time.time() - 60
    os.utime(inbox, (past, past))
    moved = run_roar(
        "run",
        "-q",
        "-n",
        "file",
        "sh",
        "-c",
        "mkdir -p done && mv inbox/data.csv done/data.csv",
        cwd=ws.root,
    )
    assert moved.code == 0, moved.stderr
    assert stale(ws) == {}
    shown = run_roar("show", "@1", "--json", cwd=ws.root)
    doc = json.loads(shown.stdout)
    _validator("show").validate(doc)
    assert doc["inputs"] == [
        {
            "path": "inbox/data.csv",
            "hash": doc["outputs"][0]["hash"],
            "size": 4,
            "moved_to": "done/data.csv",
        }
    ]
    assert "inbox/data.csv  (moved to done/data.csv)" in run_roar("show", "@1", cwd=ws.root).stdout
    ws.write("inbox/data.csv", "c,d\n")
    assert stale(ws) == {"file": ["input inbox/data.csv changed"]}


def test_a_directory_the_job_moved_is_recorded_once_and_its_inputs_are_not_missing(
    ws: Workspace,
) -> None:
    for name in ("a.txt", "deep/b.txt"):
        path = ws.write(f"raw/{name}", name)
        past = time.time() - 60
        os.utime(path, (past, past))
    moved = run_roar("run", "-q", "-n", "archive", "mv", "raw", "archive", cwd=ws.root)
    assert moved.code == 0, moved.stderr
    assert stale(ws) == {}
    doc = json.loads(run_roar("show", "@1", "--json", cwd=ws.root).stdout)
    assert {(f["path"], f["moved_to"]) for f in doc["inputs"]} == {
        ("raw/a.txt", "archive/a.txt"),
        ("raw/deep/b.txt", "archive/deep/b.txt"),
    }
    with ws.project.open_store() as store:
        env = store.get_job(1).env
    assert env["moved_directories"] == {"raw": "archive"}
    assert "moved_inputs" not in env  # each file is not listed again
