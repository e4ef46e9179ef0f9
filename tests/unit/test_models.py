"""The records that flow between roar's layers."""

from __future__ import annotations

import pytest

from roar.models import EMPTY, Artifact, Job, JobSpec


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
