"""A job's inputs stored as shared groups: a rerun over the same data adds a row per group.

ML jobs read the same thousands of files run after run. One row per (job, file) made every
run insert its rows all over the path and hash indexes, so recording slowed down as the
history grew (5,000 inputs: 60 ms on a new store, 300 ms after 100 reruns, 500 ms after
300) and the store grew by about 270 bytes per file per run. Instead, a job's sorted
(path, hash) pairs are cut into groups, each named by the BLAKE3 of its members:

- `input_groups` holds each group once (its digest and member count);
- `input_group_members` holds a group's (path, hash) pairs, once;
- `job_input_groups` lists the groups a job read.

The view `job_inputs` joins the two back into the old table's columns (job_id,
artifact_hash, path), so every query reads a job's inputs as before.

A cut falls after a path whose CRC-32 has its low seven bits clear (one path in 128), and
after 4,096 members at most. The cuts depend on the paths alone, never on the content:
a changed file changes only its own group's digest, and an added or removed file only
its own group. A rerun over unchanged data finds every group already stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from roar.models import Artifact
from roar.named_tuple import NamedTuple

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "CUT_MASK",
    "MAX_MEMBERS",
    "BulkRows",
    "InputGroup",
    "InputsPlan",
    "bulk_rows",
    "cut_groups",
    "plan_inputs",
    "store_inputs",
]

#: A group ends after a path whose CRC-32 has these bits clear: 128 paths on average.
CUT_MASK = 127
#: A group ends after this many members whatever its paths: bounds what one changed
#: file rewrites.
MAX_MEMBERS = 4_096
# Bound parameters per IN (...) query, as in store.py.
_CHUNK = 5_000

Pair = tuple[str, str]  # (path as stored text, artifact hash)


class InputGroup(NamedTuple):
    """Some of a job's (path, hash) pairs, in path order, named by their BLAKE3."""

    digest: str
    members: tuple[Pair, ...]


def _digest(members: Sequence[Pair]) -> str:
    # not at the top: opening a store must not load blake3 (see roar.run.record)
    from blake3 import blake3

    # Each path comes with its length, so the encoding reads back one way only, whatever
    # characters a path holds.
    text = "".join(f"{len(path)}:{path}{digest}\n" for path, digest in members)
    return blake3(text.encode()).hexdigest()


def cut_groups(pairs: Iterable[Pair]) -> list[InputGroup]:
    """The groups of these (path text, hash) pairs, given in any order and with repeats."""
    import zlib  # not at the top: every command opens a store, few record inputs

    groups: list[InputGroup] = []
    members: list[Pair] = []
    for pair in sorted(set(pairs)):
        members.append(pair)
        if zlib.crc32(pair[0].encode()) & CUT_MASK == 0 or len(members) >= MAX_MEMBERS:
            groups.append(InputGroup(_digest(members), tuple(members)))
            members = []
    if members:
        groups.append(InputGroup(_digest(members), tuple(members)))
    return groups


class BulkRows(NamedTuple):
    """Rows for the three group tables, for loading many jobs at once."""

    groups: list[tuple[int, str, int]]  # (id, digest, size)
    members: list[tuple[int, str, str]]  # (group_id, artifact_hash, path)
    links: list[tuple[int, int]]  # (job_id, group_id)


def bulk_rows(per_job: Mapping[int, Iterable[Pair]], ids: dict[str, int]) -> BulkRows:
    """The rows that record these jobs' inputs into tables holding the groups in `ids`
    (digest -> id), which gains the new groups, numbered on from the most it holds: for a
    migration or a bulk load into tables nothing else writes meanwhile."""
    rows = BulkRows([], [], [])
    for job_id, pairs in per_job.items():
        for group in cut_groups(pairs):
            group_id = ids.get(group.digest)
            if group_id is None:
                group_id = ids[group.digest] = len(ids) + 1
                rows.groups.append((group_id, group.digest, len(group.members)))
                rows.members.extend((group_id, digest, path) for path, digest in group.members)
            rows.links.append((job_id, group_id))
    return rows


class InputsPlan(NamedTuple):
    """What recording a job's inputs writes, decided before the writing starts."""

    groups: list[InputGroup]  # all of the job's groups
    known: dict[str, int]  # digest -> id of the groups already stored
    new: list[InputGroup]  # the groups to store, in digest order (one lock order)
    artifacts: list[Artifact]  # the artifacts of the new groups' members


def plan_inputs(
    cur: Any, inputs: Mapping[Pair, Artifact], groups: Sequence[InputGroup]
) -> InputsPlan:
    """Look up which of `inputs`' groups (`cut_groups(inputs)`, cut before the caller's
    write transaction began: the lock is held for less) are stored, inside it; only the
    members of new groups need their artifacts written."""
    digests = [group.digest for group in groups]
    known: dict[str, int] = {}
    for start in range(0, len(digests), _CHUNK):
        chunk = digests[start : start + _CHUNK]
        rows = cur.execute(
            f"SELECT digest, id FROM input_groups WHERE digest IN ({', '.join('?' * len(chunk))})",
            chunk,
        ).fetchall()
        known.update((str(digest), int(group_id)) for digest, group_id in rows)
    new = sorted((g for g in groups if g.digest not in known), key=lambda g: g.digest)
    artifacts = [inputs[pair] for group in new for pair in group.members]
    return InputsPlan(list(groups), known, new, artifacts)


def store_inputs(cur: Any, kind: str, job_id: int, plan: InputsPlan) -> None:
    """Write the plan's new groups and link the job to all of its groups; the artifacts
    of the new groups' members must be written already."""
    ids = dict(plan.known)
    members: list[tuple[int, str, str]] = []
    for group in plan.new:
        group_id = _insert_group(cur, kind, group)
        if group_id is None:  # another writer stored the same group since the plan
            group_id = int(
                cur.execute(
                    "SELECT id FROM input_groups WHERE digest = ?", (group.digest,)
                ).scalar()
            )
        else:
            members += [(group_id, digest, path) for path, digest in group.members]
        ids[group.digest] = group_id
    cur.executemany(
        "INSERT INTO input_group_members (group_id, artifact_hash, path) VALUES (?, ?, ?)",
        members,
    )
    cur.executemany(
        "INSERT INTO job_input_groups (job_id, group_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
        [(job_id, ids[group.digest]) for group in plan.groups],
    )


def _insert_group(cur: Any, kind: str, group: InputGroup) -> int | None:
    """The new group's id, or None when a concurrent writer committed it first."""
    params = (group.digest, len(group.members))
    if kind == "sqlite":
        # SQLite has one writer at a time and the plan was read in this transaction, so
        # the digest is still free; lastrowid works where RETURNING (3.35+) does not.
        return int(
            cur.insert_returning_id("INSERT INTO input_groups (digest, size) VALUES (?, ?)", params)
        )
    row = cur.execute(
        "INSERT INTO input_groups (digest, size) VALUES (?, ?) "
        "ON CONFLICT (digest) DO NOTHING RETURNING id",
        params,
    ).fetchone()
    return None if row is None else int(row[0])
