"""BLAKE3 content hashes for files and directory trees, with a stat-keyed cache."""

from __future__ import annotations

from roar.hashing.digest import copy_hashing, hash_bytes, hash_file
from roar.hashing.hasher import Hasher, PathDigest
from roar.hashing.tree import tree_digest
from roar.lazy import lazy_names

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from roar.hashing.cache import HashCache, ProgressSink

__all__ = [
    "HashCache",
    "Hasher",
    "PathDigest",
    "ProgressSink",
    "copy_hashing",
    "hash_bytes",
    "hash_file",
    "tree_digest",
]

# The protocols are loaded when asked for: they need typing, which `roar run` never loads.
__getattr__ = lazy_names(
    __name__, {"HashCache": "roar.hashing.cache", "ProgressSink": "roar.hashing.cache"}
)
