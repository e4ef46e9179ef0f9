"""A checkpoint store in a local (or NFS-mounted) directory.

Create-only writes go to a temp file that is fsynced and then `link(2)`ed to the final
name: like `O_EXCL` the link fails when the name exists, but a reader can never see a
half-written marker, even after a crash. Compare-and-swap holds an `flock` on a lock
file per key (released by the kernel if the holder dies), compares, and replaces the
value with an atomic rename. Every new name is made durable with a directory fsync.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from roar.checkpoints.backends.base import Backend, Blob, Entry
from roar.errors import BackendError, ConflictError, NotFoundError
from roar.fsutil import atomic_write_bytes, fsync_directory
from roar.hashing import hash_bytes

__all__ = ["LocalBackend"]


def _is_internal(name: str) -> bool:
    """Temp files of `create`/`write` in flight (`.NAME.XXXX.tmp`) and lock files."""
    return (name.startswith(".") and name.endswith(".tmp")) or name.endswith(".lock")


def _etag(data: bytes) -> str:
    return hash_bytes(data)[:32]


def _translate(exc: OSError, what: str) -> BackendError:
    code = errno.errorcode.get(exc.errno or 0, "EIO")
    retryable = exc.errno in {errno.EAGAIN, errno.EINTR, errno.EBUSY}
    return BackendError(code, f"{what}: {exc.strerror or exc}", retryable=retryable)


class LocalBackend(Backend):
    publishes_in_place = True

    def __init__(self, root: Path) -> None:
        # Created by the first write, not here: a reader with a typo in the path gets
        # "no ref", not a new empty store.
        self.root = root.expanduser().absolute()
        self.url = str(self.root)
        if self.root.exists() and not self.root.is_dir():
            raise BackendError("NotADirectory", f"checkpoint store {self.root} is a file")

    def _path(self, key: str) -> Path:
        if key.startswith("/") or ".." in key.split("/"):
            raise BackendError("InvalidKey", f"bad key {key!r}")
        return self.root / key

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    def read(self, key: str) -> Blob:
        try:
            data = self._path(key).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            raise NotFoundError(f"{key} not found in {self.url}") from None
        except OSError as exc:
            raise _translate(exc, f"cannot read {key}") from exc
        return Blob(data, _etag(data))

    def write(self, key: str, data: bytes) -> str:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, data)
        except OSError as exc:
            raise _translate(exc, f"cannot write {key}") from exc
        return _etag(data)

    def create(self, key: str, data: bytes) -> str:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.link(tmp, path)  # fails with EEXIST, like O_EXCL
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
            fsync_directory(path.parent)
        except FileExistsError:
            raise ConflictError(f"{key} already exists in {self.url}") from None
        except OSError as exc:
            raise _translate(exc, f"cannot create {key}") from exc
        return _etag(data)

    @contextlib.contextmanager
    def _locked(self, key: str) -> Iterator[None]:
        locks = self.root / "locks"
        locks.mkdir(parents=True, exist_ok=True)
        lock = locks / (key.replace("/", "%2F") + ".lock")
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def swap(self, key: str, data: bytes, etag: str) -> str:
        try:
            with self._locked(key):
                try:
                    current = _etag(self._path(key).read_bytes())
                except FileNotFoundError:
                    raise ConflictError(f"{key} is gone (it was deleted meanwhile)") from None
                if current != etag:
                    raise ConflictError(f"{key} was moved by another writer")
                return self.write(key, data)
        except OSError as exc:
            raise _translate(exc, f"cannot update {key}") from exc

    def delete(self, key: str, etag: str | None = None) -> None:
        path = self._path(key)
        try:
            if etag is None:
                self._unlink(path)
                return
            with self._locked(key):
                try:
                    current = _etag(path.read_bytes())
                except FileNotFoundError:
                    raise ConflictError(f"{key} is gone (it was deleted meanwhile)") from None
                if current != etag:
                    raise ConflictError(f"{key} was moved by another writer")
                self._unlink(path)
        except OSError as exc:
            raise _translate(exc, f"cannot delete {key}") from exc

    @staticmethod
    def _unlink(path: Path) -> None:
        try:
            path.unlink()
        except FileNotFoundError:
            return
        fsync_directory(path.parent)

    def list(self, prefix: str) -> list[Entry]:
        base = self._path(prefix.rstrip("/")) if prefix else self.root
        found: list[Entry] = []
        if not base.is_dir():
            return found
        for dirpath, _dirs, files in os.walk(base):
            for name in files:
                if _is_internal(name):
                    continue
                full = Path(dirpath) / name
                with contextlib.suppress(FileNotFoundError):
                    size = full.stat().st_size
                    found.append(Entry(full.relative_to(self.root).as_posix(), size))
        return sorted(found, key=lambda e: e.key)

    def staging_root(self) -> Path:
        return self.root / "staging"

    def publish(self, prefix: str, source: Path, paths: Sequence[str]) -> None:
        target = self._path(prefix)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.rename(source, target)  # same filesystem: no copy at all
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
                self._copy_tree(source, target, paths)
            fsync_directory(target.parent)
        except OSError as exc:
            raise _translate(exc, f"cannot publish {prefix}") from exc

    @staticmethod
    def _copy_tree(source: Path, target: Path, paths: Sequence[str]) -> None:
        for rel in paths:
            dest = target / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            with open(source / rel, "rb") as src, open(dest, "wb") as out:
                shutil.copyfileobj(src, out, 8 << 20)
                out.flush()
                os.fsync(out.fileno())
        for directory in sorted({(target / rel).parent for rel in paths}, reverse=True):
            fsync_directory(directory)
        shutil.rmtree(source, ignore_errors=True)

    def fetch(self, key: str, dest: Path) -> None:
        try:
            shutil.copyfile(self._path(key), dest)
        except FileNotFoundError:
            raise NotFoundError(f"{key} not found in {self.url}") from None
        except OSError as exc:
            raise _translate(exc, f"cannot fetch {key}") from exc
