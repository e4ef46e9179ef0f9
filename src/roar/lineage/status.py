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
from roar.models import Job
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


def _input_reasons(store: Store, hasher: Hasher, root: Path, job: Job) -> list[str]:
    reasons = []
    refs = store.job_inputs(job.id)
    present = []
    for ref in refs:
        if os.path.isfile(_absolute(root, ref.path)):
            present.append(ref)
        else:
            reasons.append(f"input {ref.path} is missing")
    if present:
        try:
            digests = hasher.hash_paths([_absolute(root, r.path) for r in present])
        except HashError as exc:
            return [*reasons, str(exc)]
        for ref, digest in zip(present, digests, strict=True):
            if digest.hash != ref.artifact.hash:
                reasons.append(f"input {ref.path} changed")
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
    reasons: dict[int, list[str]] = {}
    for job in current:
        found = _input_reasons(store, hasher, project_root, job)
        found += _code_reasons(git, job, commits)
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
