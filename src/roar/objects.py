"""The project's content-addressed blob store: `.roar/objects/ab/cdef...` (BLAKE3)."""

from __future__ import annotations

from pathlib import Path

from roar.fsutil import atomic_write_bytes
from roar.hashing import hash_bytes

__all__ = ["ObjectStore"]


class ObjectStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, digest: str) -> Path:
        return self.root / digest[:2] / digest[2:]

    def has(self, digest: str) -> bool:
        return self.path_for(digest).is_file()

    def put_bytes(self, data: bytes) -> str:
        """Store `data` once (identical content shares one file); returns its hash."""
        digest = hash_bytes(data)
        target = self.path_for(digest)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(target, data, mode=0o444)
        return digest

    def get_bytes(self, digest: str) -> bytes:
        return self.path_for(digest).read_bytes()
