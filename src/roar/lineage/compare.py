"""Differences between two jobs, and where two artifacts' lineages part (pure + store reads)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from roar.models import FileRef, Job
from roar.store import Store

__all__ = ["Difference", "LineageFork", "first_forks", "job_differences"]


@dataclass(frozen=True)
class Difference:
    field: str
    a: Any
    b: Any


_FIELDS = ("command", "cwd", "exit_code", "git_commit", "git_branch", "git_dirty", "patch_hash")


def _files(refs: list[FileRef]) -> dict[str, str]:
    return {ref.path: ref.artifact.hash for ref in refs}


def _map_differences(name: str, a: Mapping[str, Any], b: Mapping[str, Any]) -> list[Difference]:
    return [
        Difference(f"{name} {key}", a.get(key), b.get(key))
        for key in sorted(set(a) | set(b))
        if a.get(key) != b.get(key)
    ]


def job_differences(
    store: Store, a: Job, b: Job, *, include_outputs: bool = True
) -> list[Difference]:
    """What differs between two jobs: parameters, code, environment, inputs, outputs."""
    found = [
        Difference(name, getattr(a, name), getattr(b, name))
        for name in _FIELDS
        if getattr(a, name) != getattr(b, name)
    ]
    found += _map_differences("param", a.env.get("params", {}), b.env.get("params", {}))
    found += _map_differences("package", a.env.get("packages", {}), b.env.get("packages", {}))
    if a.env.get("python_versions") != b.env.get("python_versions"):
        found.append(
            Difference("python", a.env.get("python_versions"), b.env.get("python_versions"))
        )
    found += _map_differences(
        "input", _files(store.job_inputs(a.id)), _files(store.job_inputs(b.id))
    )
    if include_outputs:
        found += _map_differences(
            "output", _files(store.job_outputs(a.id)), _files(store.job_outputs(b.id))
        )
    return found


@dataclass(frozen=True)
class LineageFork:
    """Where two artifacts' histories part: two jobs (or source files) that differ."""

    a: str  # "@N" or a source path
    b: str
    differences: tuple[Difference, ...]


Side = tuple[str, str | None, int | None]  # (hash, path it was read at, reading job)


def first_forks(store: Store, a: str, b: str, limit: int = 20) -> list[LineageFork]:
    """Walk both lineages together from two artifact hashes; report the first differences.

    A pair of jobs is a fork when they differ in something besides inputs that are
    explained further upstream; two different source files are a fork too. Producers are
    found with the lineage rule (newest earlier job, same path preferred).
    """
    forks: list[LineageFork] = []
    queue: list[tuple[Side, Side]] = [((a, None, None), (b, None, None))]
    seen: set[tuple[Side, Side]] = set()
    while queue and len(forks) < limit:
        left, right = queue.pop(0)
        if left[0] == right[0] or (left, right) in seen:
            continue
        seen.add((left, right))
        ids = store.producer_of(*left), store.producer_of(*right)
        if ids[0] is None or ids[1] is None:
            labels = [
                f"@{job_id}" if job_id is not None else f"source {side[1] or side[0][:12]}"
                for job_id, side in zip(ids, (left, right), strict=True)
            ]
            forks.append(
                LineageFork(labels[0], labels[1], (Difference("content", left[0], right[0]),))
            )
            continue
        job_a, job_b = store.get_job(ids[0]), store.get_job(ids[1])
        differences = job_differences(store, job_a, job_b, include_outputs=False)
        inputs_a, inputs_b = _files(store.job_inputs(job_a.id)), _files(store.job_inputs(job_b.id))
        changed = [
            ((inputs_a[p], p, job_a.id), (inputs_b[p], p, job_b.id))
            for p in sorted(set(inputs_a) & set(inputs_b))
            if inputs_a[p] != inputs_b[p]
        ]
        own = [d for d in differences if not (d.field.startswith("input ") and d.a and d.b)]
        if own or not changed:
            forks.append(LineageFork(f"@{job_a.id}", f"@{job_b.id}", tuple(differences)))
        queue.extend(changed)
    return forks
