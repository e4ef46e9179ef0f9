"""The interfaces the hasher takes from outside: a persistent hash cache (the store
implements it) and a progress display (the CLI's bar).

Protocols need typing at run time, which `roar run` does not import (4-5 ms): the hasher
names them for type checkers only, and `roar.hashing` loads this module when asked for
them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from roar.models import HashCacheEntry

__all__ = ["HashCache", "ProgressSink"]


class HashCache(Protocol):
    def lookup_hashes(self, paths: Sequence[str]) -> Mapping[str, HashCacheEntry]:
        """Entries recorded for these absolute paths (missing paths are left out)."""
        ...

    def store_hashes(self, entries: Sequence[HashCacheEntry]) -> None:
        """Insert or replace the entries for their paths."""
        ...


class ProgressSink(Protocol):
    def start(self, total_bytes: int, total_files: int) -> None: ...
    def advance(self, nbytes: int) -> None: ...
    def finish(self) -> None: ...
