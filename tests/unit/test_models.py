"""The records that flow between roar's layers."""

from __future__ import annotations

import pytest

from roar.models import EMPTY, Artifact, Job, JobSpec, moved_to


def test_a_job_has_every_field_of_its_spec_with_the_same_defaults() -> None:
    """Job repeats JobSpec's fields (NamedTuples do not inherit fields): keep them in step."""
    assert Job._fields == ("id", "uid", *JobSpec._fields)
    assert Job._field_defaults == JobSpec._field_defaults
    shared = {k: v for k, v in Job.__annotations__.items() if k not in ("id", "uid")}
    assert shared == JobSpec.__annotations__  # the same types, field by field


def test_the_shared_empty_default_cannot_be_changed() -> None:
    spec, artifact = JobSpec(), Artifact("h", 1)
    assert spec.env is EMPTY
    assert artifact.meta is EMPTY
    with pytest.raises(TypeError):
        spec.env["leak"] = 1  # type: ignore[index]
    assert dict(JobSpec().env) == {}


def test_records_are_immutable() -> None:
    with pytest.raises(AttributeError):
        JobSpec().step = "x"  # type: ignore[misc]


def test_moved_to_reads_files_and_whole_directories() -> None:
    env = {
        "moved_inputs": {"inbox/data.csv": "done/data.csv"},
        "moved_directories": {"raw": "archive/2026", "/data/in": "/data/out"},
    }
    assert moved_to(env, "inbox/data.csv") == "done/data.csv"
    assert moved_to(env, "raw/deep/b.txt") == "archive/2026/deep/b.txt"
    assert moved_to(env, "/data/in/x.bin") == "/data/out/x.bin"
    assert moved_to(env, "rawer/x") is None  # a name that only starts like one
    assert moved_to(env, "inbox/other.csv") is None
    assert moved_to({}, "raw/a") is None
