"""What is stale: current jobs whose inputs or source code changed since they ran, and
everything downstream of them, each with the reason.

"Current" means the newest successful job of each step: older runs are history.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from roar.errors import HashError
from roar.hashing import Hasher
from roar.models import FileRef, Job, is_value_path, moved_to
from roar.objects import ObjectStore
from roar.project import Project
from roar.store import Store
from roar.vcs.git import Git

__all__ = ["StaleJob", "stale_jobs"]


@dataclass(frozen=True)
class StaleJob:
    job: Job
    reasons: tuple[str, ...]


def _current_jobs(store: Store) -> list[Job]:
    newest: dict[str, Job] = {}
    for job in store.list_jobs():  # newest first
        if job.exit_code == 0 and job.step not in newest:
            newest[job.step] = job
    return sorted(newest.values(), key=lambda j: j.id)


def _absolute(root: Path, path: str) -> str:
    return path if os.path.isabs(path) else str(root / path)


def _input_reasons(
    hasher: Hasher, root: Path, current: list[Job], inputs: list[tuple[int, FileRef]]
) -> dict[int, list[str]]:
    """Per job, its missing and changed inputs; every file is hashed once, in one batch.

    A task's value input is stored by content and cannot change; it can only be lost."""
    reasons: dict[int, list[str]] = {job.id: [] for job in current}
    present: list[tuple[int, FileRef, str]] = []
    objects = ObjectStore(Project(root).objects_dir)
    envs = {job.id: job.env for job in current}
    for job_id, ref in inputs:
        if is_value_path(ref.path):
            if not objects.has(ref.artifact.hash):
                reasons[job_id].append(f"input {ref.path} is gone from .roar/objects")
            continue
        path = _absolute(root, ref.path)
        if os.path.isfile(path):
            present.append((job_id, ref, path))
        elif moved_to(envs[job_id], ref.path) is None:  # not gone by the job's own rename
            reasons[job_id].append(f"input {ref.path} is missing")
    unique = list(dict.fromkeys(path for _, _, path in present))
    digests: dict[str, str] = {}
    errors: dict[str, str] = {}
    try:
        digests = dict(zip(unique, (d.hash for d in hasher.hash_paths(unique)), strict=True))
    except HashError:  # an unreadable file: hash one by one to name the jobs it concerns
        for path in unique:
            try:
                digests[path] = hasher.hash_paths([path])[0].hash
            except HashError as exc:
                errors[path] = str(exc)
    for job_id, ref, path in present:
        if path in errors:
            reasons[job_id].append(errors[path])
        elif digests[path] != ref.artifact.hash:
            reasons[job_id].append(f"input {ref.path} changed")
    return reasons


def _code_reasons(git: Git | None, job: Job, cache: dict[str, set[str] | None]) -> list[str]:
    sources = job.env.get("source_files") or []
    if git is None or job.git_commit is None or not sources:
        return []
    if job.git_commit not in cache:
        cache[job.git_commit] = git.changed_since(job.git_commit)
    changed = cache[job.git_commit]
    if changed is None:
        return [f"its commit {job.git_commit[:12]} is not in this repository"]
    return [
        f"source {path} changed since {job.git_commit[:12]}" for path in sources if path in changed
    ]


def stale_jobs(store: Store, project_root: Path) -> list[StaleJob]:
    """Stale current jobs in job order: directly, or because something upstream is."""
    hasher = Hasher(store)
    git = Git.discover(project_root)
    commits: dict[str, set[str] | None] = {}
    current = _current_jobs(store)
    by_input = _input_reasons(
        hasher, project_root, current, store.inputs_of_jobs([job.id for job in current])
    )
    reasons: dict[int, list[str]] = {}
    for job in current:
        found = by_input[job.id] + _code_reasons(git, job, commits)
        if found:
            reasons[job.id] = found
    current_ids = {job.id for job in current}
    for job_id in sorted(reasons):
        if reasons[job_id] and not reasons[job_id][0].startswith("upstream"):
            outputs: list[tuple[str, str | None]] = [
                (r.artifact.hash, r.path) for r in store.job_outputs(job_id)
            ]
            for downstream in store.walk(outputs, "down", None, bound=job_id):
                if downstream in current_ids and downstream not in reasons:
                    reasons[downstream] = [f"upstream @{job_id} is stale"]
    by_id = {job.id: job for job in current}
    return [StaleJob(by_id[j], tuple(reasons[j])) for j in sorted(reasons)]
