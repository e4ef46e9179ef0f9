"""Files a job's processes told roar about (capture/journal.py) next to the traced ones."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

from roar.capture.journal import JournalEntry
from roar.models import Artifact, FileRef
from roar.named_tuple import NamedTuple

__all__ = ["Told", "merge_refs", "told_files"]


class Told(NamedTuple):
    reads: tuple[JournalEntry, ...]
    writes: tuple[JournalEntry, ...]
    internal_dirs: tuple[str, ...]


def told_files(journal: Sequence[JournalEntry]) -> Told:
    return Told(
        reads=tuple(e for e in journal if e.kind == "read"),
        writes=tuple(e for e in journal if e.kind == "write"),
        internal_dirs=tuple(sorted({e.location for e in journal if e.kind == "internal"})),
    )


def _relative(root: Path, location: str) -> str:
    prefix = str(root) + os.sep
    return location[len(prefix) :] if location.startswith(prefix) else location


def merge_refs(traced: list[FileRef], told: Sequence[JournalEntry], root: Path) -> list[FileRef]:
    """`traced` plus every told file it does not already hold (same path, same content)."""
    if not told:  # the common case: a job of thousands of files, no library told of any
        return traced
    seen = {(ref.path, ref.artifact.hash) for ref in traced}
    merged = list(traced)
    now = time.time()
    for entry in told:
        path = _relative(root, entry.location)
        if (path, entry.blake3) in seen:
            continue
        seen.add((path, entry.blake3))
        merged.append(FileRef(path, Artifact(entry.blake3, entry.size, "file", now)))
    return merged
