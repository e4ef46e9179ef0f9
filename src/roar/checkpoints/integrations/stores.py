"""The store an adapter writes to: opened on first use, closed when training ends, and
shipped to other processes (Lightning spawn, Ray workers) as its URL, never as live
connections or threads."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from roar.checkpoints.checkpoint import CheckpointStore, resolve_name
from roar.checkpoints.model import Manifest

__all__ = ["StoreHandle", "StoreSpec", "open_commit"]

#: Where an adapter commits: a store URL (a local path or s3://bucket/prefix) or an open store.
StoreSpec = str | os.PathLike[str] | CheckpointStore


class StoreHandle:
    """A `CheckpointStore` given as a URL (opened lazily, owned and closed here) or as an
    open store (the caller's: used, never closed here)."""

    def __init__(self, spec: StoreSpec, client_options: Mapping[str, Any] | None = None) -> None:
        self._options = dict(client_options or {})
        if isinstance(spec, CheckpointStore):
            self._store: CheckpointStore | None = spec
            self._owned = False
            self.url = spec.client.url
        else:
            self._store = None
            self._owned = True
            self.url = os.fspath(spec)

    def get(self) -> CheckpointStore:
        if self._store is None:
            self._store = CheckpointStore(self.url, **self._options)
            self._owned = True
        return self._store

    def close(self) -> None:
        """Wait for background commits and release the store, when it is ours to close."""
        if self._store is not None and self._owned:
            store, self._store = self._store, None
            store.close()

    def __getstate__(self) -> dict[str, Any]:
        # A store holds a thread pool and (for S3) a connection pool: the other process
        # opens its own from the URL. A caller's store becomes one we own over there.
        return {"url": self.url, "_options": self._options, "_store": None, "_owned": True}


def open_commit(store: CheckpointStore, name: str) -> tuple[Manifest, Path]:
    """The manifest and a local directory of the commit `name` names: a ref (its newest
    commit that verifies, falling back to older ones) or a commit id or unique prefix
    (exactly that commit, verified)."""
    if name.startswith("c_"):
        commit_id = resolve_name(store.client, name)
        return store.client.repo.materialize(commit_id, verify=True)
    return store.resolve(name)
