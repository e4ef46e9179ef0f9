"""What users add to the records: named collections of files, tags on jobs and artifacts,
and flags on artifacts."""

from __future__ import annotations

import time
from collections.abc import Sequence

from roar.errors import RecordNotFound
from roar.models import Collection, FileRef, Flag, Tag
from roar.pathtext import from_text, to_text
from roar.store.db import Database
from roar.store.rows import ARTIFACT_COLUMNS, artifact_from_row, put_artifacts

__all__ = ["Annotations"]


class Annotations:
    """Part of Store (a mixin over its database)."""

    db: Database

    def add_collection(self, name: str, kind: str, members: Sequence[FileRef]) -> Collection:
        with self.db.write() as cur:
            put_artifacts(self.db, cur, [m.artifact for m in members])
            collection_id = cur.insert_returning_id(
                "INSERT INTO collections (name, kind) VALUES (?, ?)", (name, kind)
            )
            rows = {to_text(m.path): m.artifact.hash for m in members}
            cur.executemany(
                "INSERT INTO collection_members (collection_id, artifact_hash, path) "
                "VALUES (?, ?, ?)",
                [(collection_id, digest, path) for path, digest in sorted(rows.items())],
            )
        return self.get_collection(name)

    def get_collection(self, name: str) -> Collection:
        with self.db.read() as cur:
            head = cur.execute(
                "SELECT id, name, kind FROM collections WHERE name = ?", (name,)
            ).fetchone()
            if head is None:
                raise RecordNotFound(f"no collection named {name!r}")
            rows = cur.execute(
                f"SELECT m.path, {ARTIFACT_COLUMNS} FROM collection_members m "
                "JOIN artifacts a ON a.hash = m.artifact_hash "
                "WHERE m.collection_id = ? ORDER BY m.path",
                (head[0],),
            ).fetchall()
        members = tuple(
            FileRef(from_text(row[0]), artifact_from_row(self.db, row[1:])) for row in rows
        )
        return Collection(head[1], head[2], members)

    def add_tag(self, target: str, name: str) -> None:
        with self.db.write() as cur:
            cur.execute(
                "INSERT INTO tags (target, name) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (target, name),
            )

    def remove_tag(self, target: str, name: str) -> bool:
        with self.db.write() as cur:
            cur.execute("DELETE FROM tags WHERE target = ? AND name = ?", (target, name))
            return cur.rowcount > 0

    def all_tags(self) -> list[Tag]:
        with self.db.read() as cur:
            rows = cur.execute("SELECT target, name FROM tags ORDER BY name, target").fetchall()
        return [Tag(*row) for row in rows]

    def collection_names(self) -> list[tuple[str, str, int]]:
        """(name, kind, number of members) of every collection."""
        with self.db.read() as cur:
            rows = cur.execute(
                "SELECT c.name, c.kind, COUNT(m.path) FROM collections c "
                "LEFT JOIN collection_members m ON m.collection_id = c.id "
                "GROUP BY c.id, c.name, c.kind ORDER BY c.name"
            ).fetchall()
        return [(str(r[0]), str(r[1]), int(r[2])) for r in rows]

    def tags_of(self, target: str) -> list[Tag]:
        with self.db.read() as cur:
            rows = cur.execute(
                "SELECT target, name FROM tags WHERE target = ? ORDER BY name", (target,)
            ).fetchall()
        return [Tag(*row) for row in rows]

    def flag(self, artifact_hash: str, note: str | None = None) -> Flag:
        flag = Flag(artifact_hash, time.time(), note)
        with self.db.write() as cur:
            cur.execute(
                "INSERT INTO flags (artifact_hash, flagged_at, note) VALUES (?, ?, ?) "
                "ON CONFLICT (artifact_hash) DO UPDATE SET "
                "flagged_at = excluded.flagged_at, note = excluded.note",
                (flag.artifact_hash, flag.flagged_at, flag.note),
            )
        return flag

    def unflag(self, artifact_hash: str) -> bool:
        with self.db.write() as cur:
            cur.execute("DELETE FROM flags WHERE artifact_hash = ?", (artifact_hash,))
            return cur.rowcount > 0

    def flags(self) -> list[Flag]:
        with self.db.read() as cur:
            rows = cur.execute(
                "SELECT artifact_hash, flagged_at, note FROM flags ORDER BY flagged_at"
            ).fetchall()
        return [Flag(*row) for row in rows]
