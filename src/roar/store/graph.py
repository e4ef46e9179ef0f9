"""Lineage walks pushed into SQL: recursive CTEs that run alike on SQLite and PostgreSQL.

Identical content is common (empty files, copies), so an edge is not "same hash" alone:
a job read content X from the *newest earlier* job that wrote X (upstream), and content a
job wrote feeds only *later* jobs that read it (downstream). Every step therefore moves
strictly back (or forward) in job numbers, which rules out cycles by construction: even
corrupted records cannot make a walk loop.

The final SELECTs use CROSS JOIN on purpose: SQLite keeps the join order of a CROSS JOIN,
so the small walk table drives index lookups instead of SQLite scanning all of
job_outputs (measured 64 ms -> 3 ms at 100,000 jobs); PostgreSQL plans it as usual. The
downstream one names the tables behind the `job_inputs` view (store/input_groups.py): a
CROSS JOIN with the view itself let SQLite scan every group member first (0.8 -> 10 ms at
10,000 jobs).
"""

from __future__ import annotations

from collections.abc import Sequence

from roar.pathtext import to_text
from roar.store.db import Database

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Literal

    # for type checkers only (typing is not imported at run time)
    Direction = Literal["up", "down"]

__all__ = ["NO_LIMIT", "walk_jobs"]

NO_LIMIT = 2**31 - 1  # a job number greater than any real one (jobs.id is a 32-bit int)

# The producer of (hash, path) read by a job bounded by `bound`: the newest earlier job that
# wrote that content at that path, else the newest earlier job that wrote that content.
_PRODUCER = """COALESCE(
    (SELECT MAX(p.job_id) FROM job_outputs p
     WHERE p.artifact_hash = w.hash AND p.path = w.path AND p.job_id < w.bound),
    (SELECT MAX(p.job_id) FROM job_outputs p
     WHERE p.artifact_hash = w.hash AND p.job_id < w.bound))"""

_UP = f"""
    WITH RECURSIVE walk(hash, path, bound, depth) AS (
        {{seeds}}
        UNION
        SELECT i.artifact_hash, i.path, o.job_id, w.depth + 1
        FROM walk w
        JOIN job_outputs o ON o.artifact_hash = w.hash AND o.job_id = {_PRODUCER}
        JOIN job_inputs i ON i.job_id = o.job_id
        WHERE w.depth < ?
    )
    SELECT DISTINCT o.job_id FROM walk w CROSS JOIN job_outputs o
    WHERE o.artifact_hash = w.hash AND o.job_id = {_PRODUCER} AND w.depth < ?
    ORDER BY 1
"""

_DOWN = """
    WITH RECURSIVE walk(hash, path, bound, depth) AS (
        {seeds}
        UNION
        SELECT o.artifact_hash, o.path, i.job_id, w.depth + 1
        FROM walk w
        JOIN job_inputs i ON i.artifact_hash = w.hash AND i.job_id > w.bound
        JOIN job_outputs o ON o.job_id = i.job_id
        WHERE w.depth < ?
    )
    SELECT DISTINCT g.job_id
    FROM walk w CROSS JOIN input_group_members m CROSS JOIN job_input_groups g
    WHERE m.artifact_hash = w.hash AND g.group_id = m.group_id AND g.job_id > w.bound
        AND w.depth < ?
    ORDER BY 1
"""


def walk_jobs(
    db: Database,
    roots: Sequence[tuple[str, str | None]],
    direction: Direction,
    depth: int | None,
    bound: int | None = None,
) -> list[int]:
    """Ids of the jobs within `depth` steps (all when None) of the root (hash, path)s.

    `bound` is the job the roots belong to: upstream walks start from jobs before it,
    downstream walks from jobs after it.
    """
    if not roots or depth == 0:
        return []
    start = bound if bound is not None else (NO_LIMIT if direction == "up" else -1)
    # Typed seeds: PostgreSQL wants the same column types in both halves of the CTE.
    seed = "SELECT CAST(? AS VARCHAR(64)), CAST(? AS TEXT), CAST(? AS INTEGER), 0"
    seeds = " UNION ".join(seed for _ in roots)
    query = (_UP if direction == "up" else _DOWN).format(seeds=seeds)
    limit = NO_LIMIT if depth is None else depth
    params: list[object] = []
    for digest, path in roots:
        params += [digest, None if path is None else to_text(path), start]
    params += [limit, limit]
    with db.read() as cur:
        return [int(row[0]) for row in cur.execute(query, params).fetchall()]
