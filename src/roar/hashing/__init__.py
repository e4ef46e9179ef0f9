"""BLAKE3 content hashes for files and directory trees, with a stat-keyed cache."""

from __future__ import annotations

from roar.hashing.cache import HashCache
from roar.hashing.digest import copy_hashing, hash_bytes, hash_file
from roar.hashing.hasher import Hasher, PathDigest, ProgressSink
from roar.hashing.tree import tree_digest

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
