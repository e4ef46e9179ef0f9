"""Merkle digest of a directory: one line per entry, sorted by name bytes, hashed again.

Equal trees give equal digests wherever they live, because only names, entry kinds and
child digests go in (no timestamps, permissions or absolute paths). Symlinks count by
their target text and are never followed, so a link cycle cannot loop.
"""

from __future__ import annotations

from collections.abc import Iterable

from blake3 import blake3

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Literal

    # for type checkers only (typing is not imported at run time)
    EntryKind = Literal["file", "dir", "link"]

__all__ = ["tree_digest"]

_KIND_BYTE: dict[EntryKind, bytes] = {"file": b"f", "dir": b"d", "link": b"l"}
_HEADER = b"roar-tree-v1\n"


def tree_digest(entries: Iterable[tuple[bytes, EntryKind, str]]) -> str:
    """Digest of (name, kind, hex digest) entries; order of the input does not matter."""
    hasher = blake3(_HEADER)
    for name, kind, digest in sorted(entries):
        hasher.update(_KIND_BYTE[kind] + b" " + digest.encode("ascii") + b" " + name + b"\0")
    return hasher.hexdigest()
