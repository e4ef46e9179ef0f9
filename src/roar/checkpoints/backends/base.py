"""The narrow interface every checkpoint storage backend implements (one per URL scheme).

Keys are '/'-separated paths relative to the store's root. The three write primitives
carry the whole protocol: `write` (durable, last writer wins: data under never-reused
ids), `create` (create-only: the COMMITTED marker) and `swap` (compare-and-swap on an
etag: refs). A backend raises only roar's checkpoint errors: `NotFoundError`,
`ConflictError` (lost a race) and `BackendError` (with `retryable` set for transient
failures); it translates its library's errors with `raise ... from exc`.
"""

from __future__ import annotations

import abc
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from roar.errors import NotFoundError
from roar.hashing import hash_file

__all__ = ["Backend", "Blob", "Entry"]


@dataclass(frozen=True)
class Blob:
    data: bytes
    etag: str


@dataclass(frozen=True)
class Entry:
    key: str
    size: int


class Backend(abc.ABC):
    """One checkpoint store's storage. Instances may be used from several threads."""

    url: str
    #: True when published files are the staged files themselves (moved, not copied), so
    #: sealing must make them durable on this machine's disk.
    publishes_in_place: bool = False

    @abc.abstractmethod
    def read(self, key: str) -> Blob:
        """The bytes at `key` and their etag; `NotFoundError` when absent."""

    @abc.abstractmethod
    def write(self, key: str, data: bytes) -> str:
        """Durably store `data` at `key` (replacing any old value); returns the etag."""

    @abc.abstractmethod
    def create(self, key: str, data: bytes) -> str:
        """Store `data` at `key` only if nothing is there (`ConflictError` otherwise); a
        reader sees all of `data` or no key at all."""

    @abc.abstractmethod
    def swap(self, key: str, data: bytes, etag: str) -> str:
        """Replace the value at `key` if its etag is still `etag`; `ConflictError` when it
        moved or is gone. Returns the new etag."""

    @abc.abstractmethod
    def delete(self, key: str, etag: str | None = None) -> None:
        """Remove `key` (absent is fine); with `etag`, only if it is still that value."""

    @abc.abstractmethod
    def list(self, prefix: str) -> list[Entry]:
        """Every key under `prefix` (recursive), sorted."""

    @abc.abstractmethod
    def staging_root(self) -> Path:
        """The local directory where folders of this store are written before a commit."""

    @abc.abstractmethod
    def publish(self, prefix: str, source: Path, paths: Sequence[str]) -> None:
        """Make the files `paths` (relative to the local directory `source`, already
        fsynced) durable under `prefix`. May move them: `source` is consumed."""

    @abc.abstractmethod
    def fetch(self, key: str, dest: Path) -> None:
        """Copy the object at `key` into the local file `dest`."""

    def digest(self, key: str, scratch: Path) -> tuple[int, str]:
        """Size and BLAKE3 of the object at `key` (fetched into the directory `scratch`)."""
        local = self.local_path(key)
        if local is not None:
            try:
                return local.stat().st_size, hash_file(local)
            except FileNotFoundError:
                raise NotFoundError(f"{key} not found in {self.url}") from None
        scratch.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=scratch, suffix=".part")
        os.close(fd)
        try:
            self.fetch(key, Path(name))
            return os.path.getsize(name), hash_file(name)
        finally:
            os.unlink(name)

    def local_path(self, key: str) -> Path | None:
        """Where `key` lives on this machine's filesystem, when it does (local stores)."""
        return None

    def location(self, key: str) -> str:
        """Where `key` is, for a person or a lineage record: a path, else a URL."""
        local = self.local_path(key)
        return str(local) if local is not None else f"{self.url}/{key}"

    def close(self) -> None:  # noqa: B027 - most backends hold nothing
        """Release connections."""
