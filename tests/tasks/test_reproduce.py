"""`roar reproduce` on what tasks made: each task call is made again in a clean worktree of
its commit (the module as committed there), its result hashed and compared with the record."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from roar.project import Project
from tests.helpers import git, run_roar
from tests.tasks.conftest import run_python

PIPELINE = """\
import asyncio
import random

import roar


@roar.task
def prep(source: roar.File, scale: int = 2) -> list:
    return [int(line) * scale for line in open(source).read().split()]


@roar.task
async def fit(values, run_dir=None) -> dict:
    await asyncio.sleep(0)
    (run_dir / "note.txt").write_text("fitted\\n")
    return {"total": sum(values), "n": len(values)}


@roar.task
def report(model, *extra, label="run") -> roar.File:
    open("report.txt", "w").write(f"{label}: {model['total']}/{model['n']} {extra}\\n")
    return roar.File("report.txt")


@roar.task
def noisy() -> float:
    return random.random()


@roar.task
def apply(transform, value: int) -> int:
    return transform(value)


@roar.task
def table(rows: int):
    import numpy as np

    return {"grid": np.arange(rows * 3, dtype=np.float32).reshape(rows, 3), "rows": rows}
"""

DRIVER = """\
import asyncio
import roar
import pipeline

values = pipeline.prep(roar.File("data.txt"), scale=3)
model = asyncio.run(pipeline.fit(values))
pipeline.report(model, 1, 2, label="weekly")
"""


@pytest.fixture
def pipeline(proj: Path) -> Path:
    """prep (a file in) -> fit (async, run_dir) -> report (a file out), committed."""
    (proj / "pipeline.py").write_text(PIPELINE)
    (proj / ".gitignore").write_text("data.txt\nreport.txt\n")
    git("add", "pipeline.py", ".gitignore", cwd=proj)
    git("commit", "-qm", "pipeline", cwd=proj)
    (proj / "data.txt").write_text("1\n2\n3\n")
    run_python(DRIVER, proj)
    return proj


def _objects(root: Path) -> Path:
    return Project(root).objects_dir


def test_a_task_pipeline_is_made_again_and_proved_by_hash(pipeline: Path) -> None:
    report = (pipeline / "report.txt").read_text()
    assert report == "weekly: 18/3 (1, 2)\n"
    (pipeline / "report.txt").unlink()
    # a value only a task made, gone from the object store: the reproduction brings it back
    with Project(pipeline).open_store() as store:
        total = next(r for r in store.job_outputs(2) if r.path == "task:fit/out/total")
    lost = _objects(pipeline) / total.artifact.hash[:2] / total.artifact.hash[2:]
    lost.unlink()

    result = run_roar("reproduce", "report.txt", "--run", "-y", cwd=pipeline)
    assert result.code == 0, result.stderr
    assert "@1 prep: ok, 3 of 3 outputs match" in result.stderr
    assert "@2 fit: ok, 2 of 2 outputs match" in result.stderr
    assert "@3 report: ok, 1 of 1 outputs match" in result.stderr
    assert "restored task:fit/out/total" in result.stderr
    assert (pipeline / "report.txt").read_text() == report
    assert lost.is_file()
    assert not list(pipeline.glob("task:*"))  # values go to the store, never the checkout
    with Project(pipeline).open_store() as store:
        replays = [j for j in store.list_jobs() if j.kind == "reproduce"]
        assert sorted(j.reproduces_job for j in replays) == [1, 2, 3]
        fit_replay = next(j for j in replays if j.reproduces_job == 2)
        # it read prep's values as their replay wrote them in the worktree
        assert {r.path for r in store.job_inputs(fit_replay.id)} == {
            "task:prep/out/0",
            "task:prep/out/1",
            "task:prep/out/2",
        }


def test_a_changed_function_is_the_first_difference(pipeline: Path) -> None:
    """The module is imported from the worktree at the recorded commit; a commit that
    changes it is replayed only when it is the one recorded."""
    changed = PIPELINE.replace("int(line) * scale", "int(line) * scale + 1")
    (pipeline / "pipeline.py").write_text(changed)
    git("commit", "-qam", "off by one", cwd=pipeline)
    result = run_roar("reproduce", "report.txt", "--run", "-y", cwd=pipeline)
    assert result.code == 0, result.stderr  # the recorded commit still holds the old code
    run_python(DRIVER, pipeline)  # recorded again, at the new commit
    with Project(pipeline).open_store() as store:
        newest = max(j.id for j in store.list_jobs() if j.step == "prep" and j.kind == "task")
    (pipeline / "pipeline.py").write_text(PIPELINE)  # the work tree differs: no matter
    again = run_roar("reproduce", f"@{newest}", "--run", "-y", cwd=pipeline)
    assert again.code == 0, again.stderr


def test_a_task_that_returns_something_new_each_time_differs(proj: Path) -> None:
    (proj / "pipeline.py").write_text(PIPELINE)
    git("add", "pipeline.py", cwd=proj)
    git("commit", "-qm", "pipeline", cwd=proj)
    run_python("import pipeline\npipeline.noisy()\n", proj)
    result = run_roar("reproduce", "task:noisy/out", "--run", "-y", cwd=proj)
    assert result.code == 8
    assert "first difference at @1 noisy" in result.stderr
    assert "DIFFERS" in result.stdout


def test_array_results_are_written_as_their_serializer_wrote_them(proj: Path) -> None:
    (proj / "pipeline.py").write_text(PIPELINE)
    git("add", "pipeline.py", cwd=proj)
    git("commit", "-qm", "pipeline", cwd=proj)
    run_python("import pipeline\npipeline.table(4)\n", proj)
    with Project(proj).open_store() as store:
        grid = next(r for r in store.job_outputs(1) if r.path == "task:table/out/grid")
    assert grid.artifact.meta["serializer"] == "numpy"
    result = run_roar("reproduce", "task:table/out/grid", "--run", "-y", cwd=proj)
    assert result.code == 0, result.stderr
    assert "@1 table: ok, 2 of 2 outputs match" in result.stderr


def test_an_editable_install_of_the_project_is_replayed_from_the_worktree(proj: Path) -> None:
    """With the project's package on the path from the checkout (pip install -e, or
    PYTHONPATH), the replay must still run the code of the recorded commit."""
    package = proj / "src" / "mylib"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "steps.py").write_text("import roar\n\n@roar.task\ndef answer():\n    return 42\n")
    git("add", "src", cwd=proj)
    git("commit", "-qm", "mylib", cwd=proj)
    editable = {"PYTHONPATH": str(proj / "src")}
    run_python("from mylib import steps\nsteps.answer()\n", proj, env=editable)
    # uncommitted work in the checkout, which the editable install would import
    (package / "steps.py").write_text("import roar\n\n@roar.task\ndef answer():\n    return 43\n")
    result = run_roar("reproduce", "task:answer/out", "--run", "-y", cwd=proj, env=editable)
    assert result.code == 0, result.stderr
    assert "@1 answer: ok, 1 of 1 outputs match" in result.stderr


def test_an_argument_that_was_not_recorded_is_named(proj: Path) -> None:
    (proj / "pipeline.py").write_text(PIPELINE)
    git("add", "pipeline.py", cwd=proj)
    git("commit", "-qm", "pipeline", cwd=proj)
    run_python("import pipeline\npipeline.apply(lambda v: v + 1, 1)\n", proj)  # no pickle
    result = run_roar("reproduce", "task:apply/out", "--run", "-y", cwd=proj)
    assert result.code == 8
    assert "argument transform (builtins.function) was not recorded when the task ran" in (
        result.stderr
    )
    assert "first difference at @1 apply (exit 2)" in result.stderr


def test_tasks_that_cannot_be_imported_again_are_refused_before_anything_runs(
    proj: Path,
) -> None:
    (proj / "factories.py").write_text(
        textwrap.dedent(
            """\
            import roar

            def factory():
                @roar.task
                def inner():
                    return 6
                return inner
            """
        )
    )
    git("add", "factories.py", cwd=proj)
    git("commit", "-qm", "factories", cwd=proj)
    run_python(
        textwrap.dedent(
            """\
            import roar
            import factories

            @roar.task
            def solo():
                return 5

            solo()
            factories.factory()()
            """
        ),
        proj,
    )
    for ref, step, why in (
        ("task:solo/out", "@1 solo", "defined in the script that ran it (__main__)"),
        ("task:inner/out", "@2 inner", "defined inside a function"),
    ):
        plan = run_roar("reproduce", ref, cwd=proj)
        assert plan.code == 0, plan.stderr
        assert f"{step} is a Python task that --run cannot call again: it is {why}" in (
            plan.stdout + plan.stderr
        )
        refused = run_roar("reproduce", ref, "--run", "-y", cwd=proj)
        assert refused.code == 8
        assert f"{step} is a Python task that cannot be called again: it is {why}" in (
            refused.stderr
        )
        with Project(proj).open_store() as store:
            assert not [j for j in store.list_jobs() if j.kind == "reproduce"]


def test_the_json_result_shows_task_values_like_files(pipeline: Path) -> None:
    result = run_roar("reproduce", "report.txt", "--run", "-y", "--json", cwd=pipeline)
    assert result.code == 0, result.stderr
    doc = json.loads(result.stdout)
    paths = {o["path"] for step in doc["result"]["steps"] for o in step["outputs"]}
    assert {"task:fit/out/total", "task:fit/out/n", "report.txt"} <= paths
