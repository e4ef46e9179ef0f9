"""The hash cache's table: the digest of each file roar hashed, under the stat it had then
(the Store's side of roar.hashing.HashCache)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from roar.models import HashCacheEntry
from roar.pathtext import from_text, to_text
from roar.store.db import Database
from roar.store.rows import chunks, from_i64, marks, to_i64

__all__ = ["HashCacheRows"]


class HashCacheRows:
    """Part of Store (a mixin over its database)."""

    db: Database

    def lookup_hashes(self, paths: Sequence[str]) -> Mapping[str, HashCacheEntry]:
        found: dict[str, HashCacheEntry] = {}
        with self.db.read() as cur:
            for chunk in chunks([to_text(p) for p in paths]):
                rows = cur.execute(
                    "SELECT path, dev, inode, size, mtime_ns, ctime_ns, hash FROM hash_cache "
                    f"WHERE path IN ({marks(len(chunk))})",
                    chunk,
                ).fetchall()
                for text, dev, inode, size, mtime_ns, ctime_ns, digest in rows:
                    path = from_text(text)
                    found[path] = HashCacheEntry(
                        path, from_i64(dev), from_i64(inode), size, mtime_ns, ctime_ns, digest
                    )
        return found

    def store_hashes(self, entries: Sequence[HashCacheEntry]) -> None:
        if not entries:
            return
        unique = {e.path: e for e in entries}
        rows = [
            (
                to_text(e.path),
                to_i64(e.dev),
                to_i64(e.inode),
                e.size,
                e.mtime_ns,
                e.ctime_ns,
                e.hash,
            )
            for e in sorted(unique.values(), key=lambda e: e.path)
        ]
        with self.db.write() as cur:
            cur.executemany(
                "INSERT INTO hash_cache (path, dev, inode, size, mtime_ns, ctime_ns, hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (path) DO UPDATE SET "
                "dev = excluded.dev, inode = excluded.inode, size = excluded.size, "
                "mtime_ns = excluded.mtime_ns, ctime_ns = excluded.ctime_ns, hash = excluded.hash",
                rows,
            )
