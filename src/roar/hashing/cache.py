"""The interface the hasher needs from a persistent hash cache (the store implements it)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from roar.models import HashCacheEntry

__all__ = ["HashCache"]


class HashCache(Protocol):
    def lookup_hashes(self, paths: Sequence[str]) -> Mapping[str, HashCacheEntry]:
        """Entries recorded for these absolute paths (missing paths are left out)."""
        ...

    def store_hashes(self, entries: Sequence[HashCacheEntry]) -> None:
        """Insert or replace the entries for their paths."""
        ...
