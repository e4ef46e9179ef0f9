"""Atomic, resumable checkpoints on a local directory or S3, linked into lineage.

    store = roar.checkpoints.CheckpointStore("s3://bucket/run-1")
    store.save(model.state_dict())             # or a directory; async_=True to overlap
    state = store.load()                       # the newest checkpoint that verifies

`Client` is the full API (folders, commits, refs, commit groups) in Roset's terms.
"""

from __future__ import annotations

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
]
