"""`roar.log_job`: record a step that already ran, without running anything (mltrace's
`log_component_run`), for code that cannot be wrapped in a task."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from roar.errors import UsageError
from roar.hashing import Hasher
from roar.models import Artifact, FileRef, JobSpec
from roar.objects import ObjectStore
from roar.project import require_project
from roar.tasks.runner import job_environment, parent_links
from roar.tasks.snapshot import code_state, host
from roar.tasks.values import relative

__all__ = ["log_job"]

When = float | dt.datetime | None
PathLike = str | os.PathLike[str]


def _seconds(value: When, name: str) -> float | None:
    if value is None or isinstance(value, float | int):
        return None if value is None else float(value)
    if isinstance(value, dt.datetime):
        # A naive datetime is local time, as datetime.timestamp() takes it.
        return value.timestamp()
    raise UsageError(f"{name} must be a UNIX time in seconds or a datetime, got {value!r}")


def _refs(hasher: Hasher, root: Path, paths: Sequence[PathLike]) -> list[FileRef]:
    absolute = [os.path.abspath(os.fspath(p)) for p in paths]
    refs = []
    for digest in hasher.hash_paths(absolute):
        artifact = Artifact(digest.hash, digest.size, digest.kind, time.time())
        refs.append(FileRef(relative(root, Path(digest.path)), artifact))
    return refs


def log_job(
    step: str,
    inputs: Sequence[PathLike] = (),
    outputs: Sequence[PathLike] = (),
    params: Mapping[str, Any] | None = None,
    started_at: When = None,
    ended_at: When = None,
    *,
    owner: str | None = None,
    tags: Sequence[str] = (),
    description: str | None = None,
    exit_code: int = 0,
    notes: str | None = None,
) -> int:
    """Record that `step` read `inputs` and wrote `outputs` (files or directories, hashed
    now); returns its run_id. Times are UNIX seconds or datetimes (default: now)."""
    if isinstance(inputs, str | os.PathLike) or isinstance(outputs, str | os.PathLike):
        raise UsageError("inputs and outputs are lists of paths, not one path")
    try:
        json.dumps(dict(params or {}), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"params must be JSON (numbers, strings, lists, dicts): {exc}") from exc
    if isinstance(tags, str):
        raise UsageError(f"tags must be a list of strings, got {tags!r}")
    end = _seconds(ended_at, "ended_at") or time.time()
    start = _seconds(started_at, "started_at") or end
    if start > end:
        raise UsageError(f"started_at ({start}) is after ended_at ({end})")
    project = require_project()
    config = project.config()
    objects = ObjectStore(project.objects_dir)
    code = code_state(Path.cwd(), objects)
    parent, parent_uid = parent_links()
    extra: dict[str, Any] = {
        "params": dict(params or {}),
        "task": {"logged": True, "description": description, "argv": list(sys.argv)},
    }
    if parent_uid is not None:
        extra["parent_uid"] = parent_uid
    with project.open_store(config) as store:
        hasher = Hasher(store)
        input_refs = _refs(hasher, project.root, inputs)
        output_refs = _refs(hasher, project.root, outputs)
        spec = JobSpec(
            kind="task",
            step=step,
            command=("roar.log_job",),
            cwd=".",
            started_at=start,
            ended_at=end,
            exit_code=exit_code,
            git_commit=code.git.commit if code else None,
            git_branch=code.git.branch if code else None,
            git_dirty=code.git.dirty if code else None,
            git_remote=code.git.remote if code else None,
            patch_hash=code.patch_hash if code else None,
            env=job_environment(project, code, None, extra),
            host=host(),
            trace_coverage="none",
            parent_job=parent,
            owner=owner,
            notes=notes,
        )
        job = store.record_job(spec, input_refs, output_refs, tags=tuple(tags))
    return job.id
