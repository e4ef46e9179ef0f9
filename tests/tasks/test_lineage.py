"""Task jobs among the rest of the lineage: log_job, tasks inside `roar run`, staleness
warnings, and what `history`, `status` and `inp` make of them."""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import roar
from roar.project import Project
from tests.helpers import run_roar
from tests.tasks.conftest import run_python


def test_log_job_records_a_step_that_already_ran(proj: Path) -> None:
    (proj / "raw.csv").write_text("x\n1\n")
    (proj / "out").mkdir()
    (proj / "out" / "part-0").write_text("2\n")
    began = dt.datetime(2024, 5, 1, 12, 0, 0)
    run_id = roar.log_job(
        "legacy_etl",
        inputs=["raw.csv"],
        outputs=["out"],
        params={"mode": "full"},
        started_at=began,
        ended_at=began + dt.timedelta(seconds=90),
        owner="ops",
        tags=["nightly"],
    )
    assert run_id == 1
    meta = roar.get_meta(run_id)
    assert (meta["kind"], meta["name"], meta["status"]) == ("task", "legacy_etl", "ok")
    assert meta["params"] == {"mode": "full"}
    assert meta["duration_s"] == 90
    assert (meta["owner"], meta["tags"]) == ("ops", ["nightly"])
    assert meta["git"]["commit"] is not None
    outputs = roar.out(run_id)
    assert [type(o).__name__ for o in outputs] == ["File"]
    assert outputs[0].path == proj / "out"
    given = roar.inp(run_id)
    assert [f.path for f in given["inputs"]] == [proj / "raw.csv"]
    assert given["mode"] == "full"
    show = json.loads(run_roar("show", "@1", "--json", cwd=proj).stdout)
    assert [f["path"] for f in show["inputs"]] == ["raw.csv"]
    assert [f["path"] for f in show["outputs"]] == ["out"]
    assert show["params"] == {"mode": "full"}
    with pytest.raises(roar.errors.HashError, match="missing.csv"):
        roar.log_job("legacy_etl", inputs=["missing.csv"])
    with pytest.raises(roar.errors.UsageError, match="params must be JSON"):
        roar.log_job("legacy_etl", params={"f": object()})


def test_a_task_inside_roar_run_is_the_run_jobs_child(proj: Path) -> None:
    (proj / "step.py").write_text(
        "import roar\n"
        "@roar.task\n"
        "def inside(x):\n"
        "    return x * 2\n"
        "print(inside(21).load())\n"
        "roar.log_job('noted')\n"
    )
    result = run_roar("run", "-q", "--tracer", "python", sys.executable, "step.py", cwd=proj)
    assert result.code == 0, result.stderr
    assert result.stdout == "42\n"
    rows = {r["step"]: r for r in json.loads(run_roar("log", "--json", cwd=proj).stdout)}
    run_job = rows["step"]
    assert run_job["kind"] == "run"
    assert roar.get_meta(rows["inside"]["id"])["parent_job"] == run_job["id"]
    assert roar.get_meta(rows["noted"]["id"])["parent_job"] == run_job["id"]
    shown = run_roar("show", f"@{rows['inside']['id']}", cwd=proj).stdout
    assert f"parent    @{run_job['id']}" in shown
    # The run's trace does not list roar's own files (.roar/objects) as outputs.
    show = json.loads(run_roar("show", f"@{run_job['id']}", "--json", cwd=proj).stdout)
    assert not [f for f in show["outputs"] if ".roar" in f["path"]]


@roar.task
def source() -> Any:
    return np.arange(3)


@roar.task
def consume(values: Any) -> int:
    return int(values.sum())


def test_staleness_warns_once_naming_newer_runs_and_old_artifacts(
    proj: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = source()
    source()  # the same bytes again: not a reason
    consume(old)
    assert "stale" not in capsys.readouterr().err

    @roar.task(name="source")
    def source_v2() -> Any:
        return np.arange(4)

    source_v2()  # @4 made something else
    consume(old)
    warning = [line for line in capsys.readouterr().err.splitlines() if "stale" in line]
    assert warning == [
        "roar: warning: consume reads stale artifacts: task:source/out from @1 "
        "(source has run since: @4)"
    ]

    later = time.time() + 3 * 86_400
    from roar.tasks.staleness import stale_inputs_warning

    with Project(proj).open_store() as store:
        message = stale_inputs_warning(store, "consume", [old], 1, now=later)
    assert message is not None
    assert "made 3 days ago, more than tasks.staleness_days = 1" in message


def test_inp_gives_back_every_argument(proj: Path) -> None:
    import pandas as pd

    @roar.task
    def many(frame: Any, artifact: Any, options: dict[str, Any], pair: tuple[int, int]) -> int:
        return len(frame)

    made = source()
    frame = pd.DataFrame({"a": [1, 2]})
    many(frame, [made, 5], {"depth": 3, "tags": ["x"]}, (1, 2))
    got = roar.inp(2)
    pd.testing.assert_frame_equal(got["frame"].load(), frame)
    assert got["frame"].path == "task:many/in/frame"
    assert got["artifact"][0] == made
    assert got["artifact"][1] == 5
    assert got["options"] == {"depth": 3, "tags": ["x"]}
    assert got["pair"] == (1, 2)
    assert roar.get_meta(2)["params"] == {"options": {"depth": 3, "tags": ["x"]}, "pair": [1, 2]}
    # The frame passed by value is a source in the lineage; the artifact an edge to @1.
    graph = json.loads(run_roar("trace", "@2", "--format", "json", cwd=proj).stdout)
    assert sorted(job["id"] for job in graph["jobs"]) == [1, 2]


def test_history_compares_params_and_status_checks_objects(proj: Path) -> None:
    @roar.task
    def scale(values: Any, factor: float) -> Any:
        return values * factor

    made = source()
    scale(made, 2.0)
    scale(made, 3.0)
    history = json.loads(run_roar("history", "scale", "--json", cwd=proj).stdout)
    changes = {c["field"]: (c["a"], c["b"]) for c in history[0]["changes"]}
    assert changes["param factor"] == (2.0, 3.0)
    status = run_roar("status", "--json", cwd=proj)
    assert json.loads(status.stdout) == []  # value inputs are not looked for on disk
    made.object_path.chmod(0o644)
    made.object_path.unlink()
    stale = json.loads(run_roar("status", "--json", cwd=proj).stdout)
    assert {row["step"]: row["reasons"] for row in stale} == {
        "scale": ["input task:source/out is gone from .roar/objects"]
    }


def test_lookups_work_from_another_project_directory(proj: Path, tmp_path: Path) -> None:
    made = source()
    out = run_python(
        f"import roar\nprint(roar.out({made.run_id}, root={str(proj)!r}).load().tolist())",
        tmp_path,
    )
    assert out == "[0, 1, 2]\n"


def test_reproduce_names_a_task_it_cannot_import_in_the_worktree(proj: Path) -> None:
    """`source` lives in roar's test suite, not in the project's repository: the replay
    says so and the reproduction fails (tests/tasks/test_reproduce.py replays real ones)."""
    made = source()
    plan = run_roar("reproduce", made.hash[:12], cwd=proj)
    assert plan.code == 0, plan.stderr
    assert "@1 source: tests.tasks.test_lineage:source" in plan.stdout
    replay = run_roar("reproduce", made.hash[:12], "--run", "-y", cwd=proj)
    assert replay.code == 8
    assert "cannot import tests.tasks.test_lineage in the worktree" in replay.stderr
    assert "first difference at @1 source (exit 2)" in replay.stderr
