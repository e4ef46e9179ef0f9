"""Read a recorded run back by its run_id: arguments, outputs, metadata, log, directory.

These work in any later process (they find `.roar/` from the working directory, or from
`root`) and on every kind of job: a `roar run` job's inputs and outputs come back as
`roar.File`s, a task's as the Artifacts and values it was called with and returned.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from roar.errors import RecordNotFound, RunNotFinished, UnknownRun
from roar.models import FileRef, Job
from roar.project import Project, require_project
from roar.store import Store
from roar.tasks.artifact import Artifact, File
from roar.tasks.capture import LOG_NAME
from roar.tasks.values import decode

__all__ = ["get_log", "get_meta", "get_run_dir", "inp", "out"]

Root = str | os.PathLike[str] | None


def _project(root: Root) -> Project:
    return require_project(Path(root) if root is not None else None)


def _job(project: Project, store: Store, run_id: int) -> Job:
    if isinstance(run_id, bool) or not isinstance(run_id, int):
        raise UnknownRun(run_id=repr(run_id), location=store.location)
    try:
        return store.get_job(run_id)
    except RecordNotFound:
        raise UnknownRun(run_id=run_id, location=store.location) from None


def _refs(project: Project, job: Job, refs: list[FileRef]) -> list[Artifact | File]:
    found: list[Artifact | File] = []
    for ref in refs:
        artifact = ref.artifact
        if artifact.kind == "blob" and "serializer" in artifact.meta:
            meta = artifact.meta
            found.append(
                Artifact(
                    artifact.hash,
                    artifact.size,
                    meta["serializer"],
                    meta.get("ext", ""),
                    meta.get("type", "?"),
                    ref.path,
                    job.id,
                    job.step,
                    project.root,
                )
            )
        else:
            found.append(File(project.root / ref.path, hash=artifact.hash, size=artifact.size))
    return found


def inp(run_id: int, *, root: Root = None) -> dict[str, Any]:
    """The arguments of a task run by name (Artifacts for artifacts, `roar.File`s for
    files, values for the rest); for other jobs `{"inputs": [...], **params}`."""
    project = _project(root)
    with project.open_store(project.config()) as store:
        job = _job(project, store, run_id)
        record = job.env.get("task", {}).get("args")
        if record is not None:
            decoded: dict[str, Any] = decode(record, project.root, job.id, job.step)
            return decoded
        inputs = _refs(project, job, store.job_inputs(job.id))
    return {"inputs": inputs, **job.env.get("params", {})}


def out(run_id: int, *, root: Root = None) -> Any:
    """What a task run returned, as Artifacts in the shape it returned them (a failed or
    unfinished run has none: that is an error). Other jobs: a list of their outputs."""
    project = _project(root)
    with project.open_store(project.config()) as store:
        job = _job(project, store, run_id)
        if job.exit_code != 0:
            state = "has not finished (or its process died)"
            if job.exit_code is not None:
                state = f"failed (exit {job.exit_code}: {job.notes or 'no note'})"
            raise RunNotFinished(
                run_id=run_id,
                step=job.step,
                state=state,
                hint=f"roar.get_log({run_id}) shows its output and traceback",
            )
        task = job.env.get("task", {})
        if "result" in task:
            return decode(task["result"], project.root, job.id, job.step)
        return _refs(project, job, store.job_outputs(job.id))


def get_meta(run_id: int, *, root: Root = None) -> dict[str, Any]:
    """Everything recorded about a run except its arguments and outputs, as plain JSON."""
    project = _project(root)
    with project.open_store(project.config()) as store:
        job = _job(project, store, run_id)
        tags = [t.name for t in store.tags_of(f"job:{job.uid}")]
    task = job.env.get("task", {})
    status = "unfinished" if job.exit_code is None else ("ok" if job.exit_code == 0 else "failed")
    ended = job.ended_at
    return {
        "run_id": job.id,
        "uid": job.uid,
        "kind": job.kind,
        "name": job.step,
        "function": task.get("function"),
        "description": task.get("description"),
        "owner": job.owner,
        "tags": tags,
        "params": job.env.get("params", {}),
        "status": status,
        "exit_code": job.exit_code,
        "notes": job.notes,
        "started_at": job.started_at,
        "ended_at": ended,
        "duration_s": None if ended is None else ended - job.started_at,
        "git": {
            "commit": job.git_commit,
            "branch": job.git_branch,
            "dirty": job.git_dirty,
            "remote": job.git_remote,
            "patch_hash": job.patch_hash,
        },
        "packages": job.env.get("packages", {}),
        "python_versions": job.env.get("python_versions", []),
        "host": dict(job.host),
        "parent_job": job.parent_job,
        "cwd": job.cwd,
        "run_dir": str(project.runs_dir / str(job.id)),
    }


def get_run_dir(run_id: int, *, root: Root = None) -> Path:
    """`.roar/runs/<run_id>/`: the run's log and whatever the task wrote to `run_dir`."""
    project = _project(root)
    with project.open_store(project.config()) as store:
        job = _job(project, store, run_id)
    return project.runs_dir / str(job.id)


def get_log(run_id: int, *, root: Root = None) -> str:
    """What the run printed and logged (with the traceback when it failed); "" when
    nothing was captured (jobs recorded by `roar run` or `roar.log_job`)."""
    directory = get_run_dir(run_id, root=root)
    try:
        return (directory / LOG_NAME).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
