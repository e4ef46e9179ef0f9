"""Garbage collection of old commits: a pure plan, then deletions marker-first.

Never removed: what a ref points at (a commit, or every commit of a sealed group), and
anything newer than the oldest such target (a commit still in flight may be about to
become `latest`); of the rest, the newest `keep_last` complete commits stay too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from roar.checkpoints.model import COMMITTED_MARKER, commit_prefix
from roar.checkpoints.store import Repository

__all__ = ["GcPlan", "collect_garbage", "plan_gc"]


@dataclass(frozen=True)
class GcPlan:
    remove: tuple[str, ...]
    keep: tuple[str, ...]


def plan_gc(
    stored: Sequence[str], complete: Sequence[str], protected: Sequence[str], keep_last: int
) -> GcPlan:
    """`stored`: every commit id with anything stored; `complete`: those with a marker;
    `protected`: the commits refs point at. Ids sort by creation time."""
    if keep_last < 0:
        raise ValueError("keep_last must be >= 0")
    cutoff = min(protected) if protected else None
    newest = set(sorted(complete)[-keep_last:]) if keep_last else set()
    keep, remove = [], []
    for commit_id in sorted(stored):
        if commit_id in protected or commit_id in newest:
            keep.append(commit_id)
        elif cutoff is None and commit_id not in complete:
            keep.append(commit_id)  # no ref yet: an incomplete commit may be in flight
        elif cutoff is not None and commit_id >= cutoff:
            keep.append(commit_id)
        else:
            remove.append(commit_id)
    return GcPlan(tuple(remove), tuple(keep))


def _protected(repo: Repository) -> list[str]:
    targets: list[str] = []
    for ref in repo.refs():
        if ref.target.startswith("g_"):
            targets += repo.get_group(ref.target).commits
        else:
            targets.append(ref.target)
    return targets


def collect_garbage(repo: Repository, keep_last: int, *, dry_run: bool = False) -> GcPlan:
    plan = plan_gc(repo.all_commit_prefixes(), repo.commit_ids(), _protected(repo), keep_last)
    if dry_run:
        return plan
    for commit_id in plan.remove:
        prefix = commit_prefix(commit_id)
        repo.backend.delete(f"{prefix}/{COMMITTED_MARKER}")  # invisible first
        repo.backend.delete(f"{prefix}/manifest.json")
        for entry in repo.backend.list(f"{prefix}/"):
            repo.backend.delete(entry.key)
    return plan
