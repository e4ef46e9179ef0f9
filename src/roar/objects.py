"""The project's content-addressed blob store: `.roar/objects/ab/cdef...` (BLAKE3)."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from roar.errors import ContentChanged, ObjectCopyFailed
from roar.fsutil import atomic_write_bytes, atomic_writer, create_temp_file, fsync_directory
from roar.hashing import copy_hashing, hash_bytes, hash_file
from roar.hashing.digest import BIG_FILE_BYTES

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import BinaryIO

__all__ = ["ObjectStore", "StagedObject"]

_STAGING_PREFIX = ".staging-"
#: A staging file nobody wrote to for this long belongs to no live writer (every write
#: moves its mtime, and a staged object is published or dropped within moments): a
#: process killed while storing a task's result left it.
STALE_STAGING_S = 24 * 3600
_swept: set[Path] = set()  # stores whose leftovers this process has cleared
_swept_lock = threading.Lock()


class StagedObject:
    """Bytes written and hashed under a temporary name in the store, not yet visible under
    their hash: `publish` moves them into place, `discard` drops them."""

    __slots__ = ("_store", "digest", "size", "temp")

    def __init__(self, temp: Path, digest: str, size: int, store: ObjectStore) -> None:
        self.temp, self.digest, self.size, self._store = temp, digest, size, store

    def publish(self) -> bool:
        """Move into place; False when the content was already stored (the copy is dropped)."""
        target = self._store.path_for(self.digest)
        if target.is_file():
            self.discard()
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.temp, target)
        fsync_directory(target.parent)
        return True

    def discard(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.temp)


def _sync_and_hash(fd: int, path: Path) -> str:
    """fsync `fd` and hash the file; for big files both at once (the disk and the CPU)."""
    if os.fstat(fd).st_size < BIG_FILE_BYTES:
        os.fsync(fd)
        return hash_file(path)
    failed: list[OSError] = []

    def sync() -> None:
        try:
            os.fsync(fd)
        except OSError as exc:
            failed.append(exc)

    syncing = threading.Thread(target=sync, name="roar-fsync")
    syncing.start()
    try:
        digest = hash_file(path)
    finally:
        syncing.join()
    if failed:
        raise failed[0]
    return digest


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

    def stage(self, write: Callable[[BinaryIO], None]) -> StagedObject:
        """Let `write` fill a new temp file in the store, then make it durable and hash it.

        The bytes go to disk once (no copy in memory): whoever writes gets a real file, so
        libraries that write straight from their own buffers (numpy's `tofile`) keep their
        speed. The fsync runs in a thread while the page-cached bytes are hashed, so the
        hash costs little beyond the wait for the disk. If `write` raises, nothing is left.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        self._sweep_leftovers()
        fd, name = create_temp_file(self.root, prefix=_STAGING_PREFIX)
        temp = Path(name)
        try:
            with os.fdopen(fd, "wb") as handle:
                write(handle)
                handle.flush()
                digest = _sync_and_hash(handle.fileno(), temp)
                size = os.fstat(handle.fileno()).st_size
            os.chmod(temp, 0o444)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise
        return StagedObject(temp, digest, size, self)

    def _sweep_leftovers(self) -> None:
        """Remove staging files left by killed processes (see STALE_STAGING_S), once per
        store and process: a killed task leaves a whole result (a model, a frame) that no
        command would ever show or remove."""
        with _swept_lock:
            if self.root in _swept:
                return
            _swept.add(self.root)
        cutoff = time.time() - STALE_STAGING_S
        try:
            with os.scandir(self.root) as entries:
                for entry in entries:
                    if not entry.name.startswith(_STAGING_PREFIX):
                        continue
                    with contextlib.suppress(FileNotFoundError):
                        if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                            os.unlink(entry.path)
        except OSError:
            return  # a sweep that cannot run costs disk space, never the caller's work

    def get_bytes(self, digest: str) -> bytes:
        return self.path_for(digest).read_bytes()
