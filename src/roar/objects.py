"""The project's content-addressed blob store: `.roar/objects/ab/cdef...` (BLAKE3)."""

from __future__ import annotations

import os
from pathlib import Path

from roar.errors import ContentChanged, ObjectCopyFailed
from roar.fsutil import atomic_write_bytes, atomic_writer
from roar.hashing import copy_hashing, hash_bytes

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

    def put_file(self, path: str | os.PathLike[str], expected_digest: str) -> bool:
        """Copy the file at `path` in as `expected_digest`; False when already stored.

        The copy streams in bounded chunks and is hashed as it goes: if the bytes copied
        are not `expected_digest` (the file changed since it was hashed), nothing is
        stored and `ContentChanged` says so. A reader never sees a partial object.
        """
        target = self.path_for(expected_digest)
        if target.is_file():
            return False
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with atomic_writer(target, mode=0o444) as handle:
                got = copy_hashing(path, handle)
                if got != expected_digest:
                    raise ContentChanged(path=os.fspath(path), expected=expected_digest, got=got)
        except OSError as exc:
            detail = exc.strerror or str(exc)
            raise ObjectCopyFailed(detail, path=os.fspath(path), objects=self.root) from exc
        return True

    def get_bytes(self, digest: str) -> bytes:
        return self.path_for(digest).read_bytes()
