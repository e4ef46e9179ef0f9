"""Atomic, resumable checkpoints on a local directory or S3, linked into lineage.

    store = roar.checkpoints.CheckpointStore("s3://bucket/run-1")
    store.save(model.state_dict())             # or a directory; async_=True to overlap
    state = store.load()                       # the newest checkpoint that verifies

`Client` is the full API (folders, commits, refs, commit groups) in Roset's terms.
`latest_checkpoint(output_dir_or_url)` (loaded on first use) finds the newest complete
folder to resume a Hugging Face Trainer from; the framework adapters live in
`roar.checkpoints.integrations`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from roar.checkpoints.checkpoint import CheckpointStore
from roar.checkpoints.client import Client
from roar.checkpoints.model import Commit, FileEntry, Folder, FolderState, Group, Manifest, Ref
from roar.errors import (
    BackendError,
    CheckpointError,
    CommitTimeout,
    ConflictError,
    FolderBusy,
    NotFoundError,
    UnsupportedStoreUrl,
    VerifyFailed,
)

if TYPE_CHECKING:
    from roar.checkpoints.integrations.latest import latest_checkpoint

__all__ = [
    "BackendError",
    "CheckpointError",
    "CheckpointStore",
    "Client",
    "Commit",
    "CommitTimeout",
    "ConflictError",
    "FileEntry",
    "Folder",
    "FolderBusy",
    "FolderState",
    "Group",
    "Manifest",
    "NotFoundError",
    "Ref",
    "UnsupportedStoreUrl",
    "VerifyFailed",
    "latest_checkpoint",
]


def __getattr__(name: str) -> Any:
    # Loaded on first use: the integrations package sits above this one (import-linter).
    if name == "latest_checkpoint":
        from roar.checkpoints.integrations.latest import latest_checkpoint

        globals()[name] = latest_checkpoint
        return latest_checkpoint
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
