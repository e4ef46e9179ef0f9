"""Files a library told the running task about (capture/journal.py), as the task's refs:
the checkpoints it committed are outputs, the ones it loaded are inputs."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from roar.capture.journal import JournalEntry
from roar.models import Artifact, FileRef
from roar.tasks.values import relative

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from roar.capture.journal import EntryKind

__all__ = ["told_refs"]


def told_refs(told: Sequence[JournalEntry], kind: EntryKind, root: Path) -> list[FileRef]:
    now = time.time()
    refs = {
        (
            relative(root, Path(e.location)) if e.location.startswith("/") else e.location,
            e.blake3,
        ): e
        for e in told
        if e.kind == kind
    }
    return [
        FileRef(path, Artifact(digest, entry.size, "file", now))
        for (path, digest), entry in sorted(refs.items())
    ]
