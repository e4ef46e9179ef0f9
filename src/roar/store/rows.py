"""SQL pieces every part of the Store shares: chunked IN lists, 64-bit stat fields, and
artifact rows."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence

from roar.models import Artifact
from roar.store.db import Database

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Any, TypeVar

    T = TypeVar("T")

__all__ = [
    "ARTIFACT_COLUMNS",
    "artifact_from_row",
    "chunks",
    "from_i64",
    "marks",
    "put_artifacts",
    "to_i64",
]


# Bound parameters per IN (...) query: below SQLite's 32,766 and PostgreSQL's 65,535, and
# large enough that 10,000 cached paths cost two round trips, not twenty.
_CHUNK = 5_000
_I64 = 1 << 63
ARTIFACT_COLUMNS = "a.hash, a.size, a.kind, a.created_at, a.meta"


def to_i64(value: int) -> int:
    """Store unsigned 64-bit stat fields (dev, inode) in a signed BIGINT column."""
    return value - (1 << 64) if value >= _I64 else value


def from_i64(value: int) -> int:
    return value + (1 << 64) if value < 0 else value


def chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def marks(count: int) -> str:
    return ", ".join("?" * count)


def artifact_from_row(db: Database, row: Sequence[Any]) -> Artifact:
    """An artifact from the columns ARTIFACT_COLUMNS names."""
    digest, size, kind, created_at, meta = row
    return Artifact(digest, size, kind, created_at, db.json_value(meta))


def put_artifacts(db: Database, cur: Any, artifacts: Iterable[Artifact]) -> None:
    """Insert the artifacts not stored yet, inside the caller's transaction."""
    unique = {a.hash: a for a in artifacts}
    now = time.time()
    no_meta = db.json_param({})
    cur.executemany(
        "INSERT INTO artifacts (hash, size, kind, created_at, meta) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (hash) DO NOTHING",
        [
            (
                a.hash,
                a.size,
                a.kind,
                a.created_at or now,
                db.json_param(dict(a.meta)) if a.meta else no_meta,
            )
            for a in sorted(unique.values(), key=lambda a: a.hash)  # one lock order
        ],
    )
