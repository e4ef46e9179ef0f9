"""Lineage walks pushed into SQL: recursive CTEs that run alike on SQLite and PostgreSQL.

A walk follows artifact -> producing job -> its inputs (upstream) or artifact -> consuming
job -> its outputs (downstream). `UNION` (not `UNION ALL`) drops rows already seen, so a
cycle in corrupted data ends the recursion instead of looping; depth bounds it as well.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from roar.store.db import Database

__all__ = ["Direction", "walk_jobs"]

Direction = Literal["up", "down"]

_STEP = {
    # from an artifact, the jobs one step away, and the artifacts on their far side
    "up": ("job_outputs", "job_inputs"),
    "down": ("job_inputs", "job_outputs"),
}


def walk_jobs(
    db: Database, roots: Sequence[str], direction: Direction, depth: int | None
) -> list[int]:
    """Ids of every job within `depth` steps of the root artifacts (all when None)."""
    if not roots:
        return []
    near, far = _STEP[direction]
    seeds = " UNION ".join("SELECT ?, 0" for _ in roots)
    limit = "" if depth is None else "WHERE w.depth < ?"
    query = f"""
        WITH RECURSIVE walk(hash, depth) AS (
            {seeds}
            UNION
            SELECT f.artifact_hash, w.depth + 1
            FROM walk w
            JOIN {near} n ON n.artifact_hash = w.hash
            JOIN {far} f ON f.job_id = n.job_id
            {limit}
        )
        SELECT DISTINCT n.job_id FROM walk w JOIN {near} n ON n.artifact_hash = w.hash
        {"" if depth is None else "WHERE w.depth < ?"}
        ORDER BY n.job_id
    """
    params: list[object] = list(roots)
    if depth is not None:
        params += [depth, depth]
    if depth is None:
        # Without a depth column the walk set is just hashes: UNION then guarantees
        # termination on cycles, which a growing depth column would not.
        query = query.replace("walk(hash, depth)", "walk(hash)")
        query = query.replace("SELECT ?, 0", "SELECT ?").replace(", w.depth + 1", "")
    with db.read() as cur:
        return [int(row[0]) for row in cur.execute(query, params).fetchall()]
