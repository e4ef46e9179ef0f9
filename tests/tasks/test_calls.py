"""One task call as one job: files in and out, run_dir, captured output, failures, threads,
and bad input (an unpicklable result, an unknown run, a lost object)."""

from __future__ import annotations

import json
import logging
import os
import pickle
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import roar
from roar.errors import ArtifactMissing, RunNotFinished, SerializationFailed, UnknownRun
from roar.project import Project
from roar.store import Store
from tests.helpers import run_roar


def _store(root: Path) -> Store:
    return Project(root).open_store()


@roar.task
def count_lines(source: roar.File, run_dir: Path) -> roar.File:
    lines = Path(source).read_text().splitlines()
    (run_dir / "seen.txt").write_text(f"{len(lines)}\n")
    target = Path("counts.txt")
    target.write_text(f"{len(lines)}\n")
    return roar.File(target)


def test_files_in_and_out_and_run_dir(proj: Path) -> None:
    (proj / "data.txt").write_text("a\nb\nc\n")
    result = count_lines(roar.File("data.txt"))
    assert isinstance(result, roar.File)
    assert result.hash is not None
    run_id = roar.get_meta  # keep the lookups honest: everything below is from the record
    meta = run_id(1)
    assert meta["status"] == "ok"
    run_dir = roar.get_run_dir(1)
    assert run_dir == proj / ".roar" / "runs" / "1"
    assert (run_dir / "seen.txt").read_text() == "3\n"
    with _store(proj) as store:
        inputs = {r.path: r.artifact for r in store.job_inputs(1)}
        outputs = {r.path: r.artifact for r in store.job_outputs(1)}
    assert set(inputs) == {"data.txt"}
    assert inputs["data.txt"].kind == "file"
    assert set(outputs) == {"counts.txt"}
    assert outputs["counts.txt"].hash == result.hash
    assert roar.out(1) == result
    assert roar.inp(1)["source"].path == proj / "data.txt"
    # A File input is lineage like any `roar run` input: the CLI traces counts.txt to it.
    tree = run_roar("trace", "counts.txt", cwd=proj)
    assert "made by @1 count_lines [task, ok]" in tree.stdout
    assert "data.txt" in tree.stdout


def test_output_and_logging_are_captured_and_still_shown(
    proj: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logger = logging.getLogger("tests.tasks.chatty")

    @roar.task
    def chatty() -> None:
        print("to stdout")
        print("to stderr", file=sys.stderr)
        logger.warning("a warning record")

    assert chatty() is None
    shown = capsys.readouterr()
    assert "to stdout" in shown.out
    assert "task: chatty, run_id=1" in shown.err
    assert "to stderr" in shown.err
    log = roar.get_log(1)
    assert "to stdout\n" in log
    assert "to stderr\n" in log
    assert "WARNING tests.tasks.chatty: a warning record" in log
    assert type(sys.stdout).__name__ != "_Tee"  # the console is given back


def test_logging_reaches_the_console_as_it_would_without_roar(proj: Path) -> None:
    """No handler configured: Python prints warnings (logging.lastResort), roar too."""
    proc = subprocess.run(
        [sys.executable, "-c", CHATTY],
        cwd=proj,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert proc.stderr.splitlines() == ["task: chatty, run_id=1", "careful", "to stderr"]
    assert proc.stdout == "to stdout\n"
    log = roar.get_log(1)
    assert "WARNING quiet.logger: careful\n" in log
    assert "info is below the level\n" not in log  # the logger's level decides, as before
    assert log.endswith("to stderr\nto stdout\n")


CHATTY = """
import logging, sys, roar
@roar.task
def chatty():
    logging.getLogger("quiet.logger").warning("careful")
    logging.getLogger("quiet.logger").info("info is below the level")
    print("to stderr", file=sys.stderr)
    print("to stdout")
chatty()
"""


@roar.task
def explode(x: int) -> int:
    raise KeyError(f"no such thing: {x}")


def test_a_failing_task_is_recorded_failed_and_reraised(proj: Path) -> None:
    with pytest.raises(KeyError, match="no such thing: 7") as caught:
        explode(7)
    assert type(caught.value) is KeyError
    meta = roar.get_meta(1)
    assert (meta["status"], meta["exit_code"]) == ("failed", 1)
    assert meta["notes"] == "KeyError: 'no such thing: 7'"
    log = roar.get_log(1)
    assert "Traceback (most recent call last)" in log
    assert "in explode" in log
    assert "runner.py" not in log  # the traceback starts at the user's code
    with pytest.raises(RunNotFinished, match=r"failed \(exit 1.*roar.get_log\(1\)"):
        roar.out(1)
    failed = json.loads(run_roar("log", "--failed", "--json", cwd=proj).stdout)
    assert [(r["id"], r["exit_code"]) for r in failed] == [(1, 1)]


def test_an_unpicklable_result_fails_the_job_and_writes_nothing(proj: Path) -> None:
    @roar.task
    def leaky() -> Any:
        return {"fine": np.arange(3), "lock": threading.Lock()}

    with pytest.raises(SerializationFailed) as caught:
        leaky()
    message = str(caught.value)
    assert "task leaky could not store result lock (a _thread.lock)" in message
    assert "roar.register_serializer" in message
    assert isinstance(caught.value.__cause__, (TypeError, pickle.PicklingError))
    objects = Project(proj).objects_dir
    assert [p for p in objects.rglob("*") if p.is_file()] == []  # not even "fine"
    meta = roar.get_meta(1)
    assert meta["status"] == "failed"
    assert "SerializationFailed" in meta["notes"]
    with _store(proj) as store:
        assert store.job_outputs(1) == []


def test_unknown_run_id(proj: Path) -> None:
    with pytest.raises(UnknownRun, match=r"no run_id 42 in .*`roar log` lists the runs"):
        roar.out(42)
    with pytest.raises(UnknownRun):
        roar.inp(42)


def test_a_deleted_object_names_its_hash_and_how_to_make_it_again(proj: Path) -> None:
    @roar.task
    def make() -> Any:
        return np.arange(4)

    @roar.task
    def use(array: Any) -> int:
        return int(array.sum())

    artifact = make()
    artifact.object_path.chmod(0o644)
    artifact.object_path.unlink()
    with pytest.raises(ArtifactMissing) as caught:
        artifact.load()
    message = str(caught.value)
    assert artifact.hash in message
    assert "task:make/out, recorded by @1 make" in message
    assert "call make again with the arguments `roar.inp(1)` returns" in message
    with pytest.raises(ArtifactMissing):
        use(artifact)  # recorded as a failed run of `use`
    assert roar.get_meta(2)["status"] == "failed"


def test_threads_calling_tasks_lose_and_mix_nothing(proj: Path) -> None:
    @roar.task
    def work(worker: int, step: int) -> dict[str, int]:
        print(f"worker {worker} step {step}")
        return {"worker": worker, "step": step}

    errors: list[BaseException] = []
    results: list[Any] = []

    def body(worker: int) -> None:
        try:
            for step in range(5):
                results.append(work(worker, step))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(w,)) for w in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(results) == 30
    with _store(proj) as store:
        jobs = store.list_jobs()
    assert len(jobs) == 30
    assert len({job.uid for job in jobs}) == 30
    seen = set()
    for job in jobs:
        params = job.env["params"]
        assert job.exit_code == 0
        log = roar.get_log(job.id)
        assert log == f"worker {params['worker']} step {params['step']}\n"  # its own only
        result = roar.out(job.id)
        assert {k: v.load() for k, v in result.items()} == params
        seen.add((params["worker"], params["step"]))
    assert seen == {(w, s) for w in range(6) for s in range(5)}


def test_a_task_called_in_a_task_is_its_child_and_in_its_log(proj: Path) -> None:
    @roar.task
    def inner() -> int:
        print("inner speaks")
        return 1

    @roar.task
    def outer() -> Any:
        print("outer speaks")
        return inner()

    result = outer()
    assert result.run_id == 2  # the inner run made it; outer recorded it again
    assert roar.get_meta(2)["parent_job"] == 1
    assert roar.get_meta(1)["parent_job"] is None
    assert roar.get_log(1) == "outer speaks\ntask: inner, run_id=2\ninner speaks\n"
    assert roar.get_log(2) == "inner speaks\n"
    assert roar.out(1).load() == 1


def test_no_project_says_run_roar_init(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(roar.errors.NotInitialized, match="run `roar init`"):
        explode(1)


def test_run_dir_cannot_be_passed(proj: Path) -> None:
    with pytest.raises(roar.errors.UsageError, match="run_dir is filled in by roar"):
        count_lines(roar.File("x"), run_dir=Path("elsewhere"))  # type: ignore[call-arg]


def test_make_task_is_terras_spelling(proj: Path) -> None:
    @roar.Task.make_task
    def plain(x: int) -> int:
        return x + 1

    @roar.Task.make_task(name="renamed", description="says what it does")
    def other(x: int) -> int:
        return x

    assert isinstance(plain, roar.Task)
    assert plain(1).load() == 2
    assert other(5).load() == 5
    meta = roar.get_meta(2)
    assert (meta["name"], meta["description"]) == ("renamed", "says what it does")
    assert meta["function"].endswith("test_make_task_is_terras_spelling.<locals>.other")
    with pytest.raises(roar.errors.UsageError, match="tags must be a list"):
        roar.task(tags="one")(plain)  # type: ignore[arg-type]


def test_a_result_left_half_stored_by_a_killed_process_is_swept_a_day_later(
    proj: Path,
) -> None:
    from tests.tasks.conftest import run_python

    killed = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, signal, roar\n"
            "class Big: pass\n"
            "def save(value, handle):\n"
            "    handle.write(b'x' * 65536); handle.flush()\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n"
            "roar.register_serializer(Big, save, lambda handle: Big(), 'big')\n"
            "roar.task(lambda: Big(), name='dies')()\n",
        ],
        cwd=proj,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert killed.returncode == -9
    objects = proj / ".roar" / "objects"
    left = [p for p in objects.iterdir() if p.name.startswith(".staging-")]
    assert len(left) == 1
    assert left[0].stat().st_size == 65536
    fresh = objects / ".staging-0123456789ab"  # another process writing right now
    fresh.write_bytes(b"in progress")
    day_and_a_bit = time.time() - 25 * 3600
    os.utime(left[0], (day_and_a_bit, day_and_a_bit))
    run_python("import roar\nroar.task(lambda: 41, name='next')()\n", proj)
    assert not left[0].exists()
    assert fresh.exists()
