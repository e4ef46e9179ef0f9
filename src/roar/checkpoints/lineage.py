"""Tell the roar job this process runs under (if any) which checkpoint bytes it stored or
loaded, so `roar trace` of a model reaches the checkpoint it was resumed from.

The manifest's BLAKE3 is roar's artifact hash, so a commit's files become the job's
outputs and a load's files its inputs with no extra hashing; the store's own bookkeeping
(staging folders, manifests, markers, refs, the download cache) is named "internal" so a
tracer's view of it does not end up in the job as well.
"""

from __future__ import annotations

from pathlib import Path

from roar.capture.journal import JournalEntry, note
from roar.checkpoints.backends.base import Backend
from roar.checkpoints.model import Manifest, commit_prefix

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from roar.capture.journal import EntryKind

__all__ = ["note_commit_files"]


def _internal_dirs(backend: Backend, cache_dir: Path) -> list[JournalEntry]:
    dirs = {str(backend.staging_root()), str(cache_dir)}
    root = backend.local_path("")
    if root is not None:
        dirs.add(str(root))
    return [JournalEntry("internal", d.rstrip("/")) for d in sorted(dirs)]


def note_commit_files(
    kind: EntryKind, backend: Backend, cache_dir: Path, manifest: Manifest
) -> None:
    """`kind` "write" after a commit is durable, "read" when a commit is loaded."""
    prefix = f"{commit_prefix(manifest.commit_id)}/files"
    files = [
        JournalEntry(kind, backend.location(f"{prefix}/{entry.path}"), entry.size, entry.blake3)
        for entry in manifest.files
    ]
    note([*_internal_dirs(backend, cache_dir), *files])
