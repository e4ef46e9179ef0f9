"""mltrace-style failure review: which jobs feed the most flagged (bad) outputs."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from roar.models import Flag, Job
from roar.store import Store

__all__ = ["Review", "review_flags"]


@dataclass(frozen=True)
class Review:
    flags: list[Flag]
    ranked: list[tuple[Job, int]]  # job, how many flagged outputs it feeds


def review_flags(store: Store) -> Review:
    flags = store.flags()
    counts: Counter[int] = Counter()
    for flag in flags:
        for job_id in store.walk([(flag.artifact_hash, None)], "up", None):
            counts[job_id] += 1
    jobs = store.jobs_by_ids(list(counts))
    ranked = sorted(((jobs[j], n) for j, n in counts.items()), key=lambda p: (-p[1], p[0].id))
    return Review(flags, ranked)
