"""What `RoarCheckpointIO` does, apart from the Lightning base class it plugs into (so the
same methods serve `lightning` and `pytorch_lightning`, which each have their own).

A save is `CheckpointStore.save` of Lightning's checkpoint dict: one atomic commit of a
`state.pt` written by `torch.save`, recording the path Lightning asked for, then the ref
moves. A load takes the name Lightning passes (`ckpt_path`) as, in order: a ref of the
store, a commit id, a path this plugin saved (so "best" works), a local checkpoint file.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from roar.checkpoints.checkpoint import CheckpointStore
from roar.checkpoints.integrations.stores import StoreHandle, StoreSpec, open_commit
from roar.checkpoints.model import Manifest, check_ref_name
from roar.errors import CheckpointError, NotFoundError, UsageError, VerifyFailed

__all__ = ["RoarCheckpointIOMethods"]

log = logging.getLogger(__name__)

PATH_KEY = "lightning.path"
STEP_KEY = "lightning.global_step"
EPOCH_KEY = "lightning.epoch"
_STATE_FILE = "state.pt"  # CheckpointStore's file for a state dict holding tensors


def _is_ref_name(name: str) -> bool:
    try:
        check_ref_name(name)
    except UsageError:
        return False
    return True


class RoarCheckpointIOMethods:
    """The `CheckpointIO` methods over a roar store; mixed into Lightning's base class."""

    def __init__(
        self,
        store: StoreSpec,
        *,
        ref: str = "latest",
        async_commit: bool = False,
        **client_options: Any,
    ) -> None:
        super().__init__()
        self.ref = check_ref_name(ref)
        self.async_commit = async_commit
        self._handle = StoreHandle(store, client_options)

    @property
    def url(self) -> str:
        return self._handle.url

    @property
    def store(self) -> CheckpointStore:
        return self._handle.get()

    # ------------------------------------------------------------------ CheckpointIO
    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: Any, storage_options: Any = None
    ) -> None:
        """Commit `checkpoint` and move the ref to it; `path` is recorded, not written."""
        if storage_options is not None:
            raise UsageError(
                "RoarCheckpointIO takes no storage_options; give store settings "
                "(timeout=, max_retries=, endpoint_url=, ...) to RoarCheckpointIO itself"
            )
        name = os.fspath(path)
        metadata = {
            PATH_KEY: name,
            STEP_KEY: int(checkpoint.get("global_step", 0)),
            EPOCH_KEY: int(checkpoint.get("epoch", 0)),
        }
        self.store.save(
            checkpoint,
            ref=self.ref,
            message=f"lightning {os.path.basename(name)}",
            metadata=metadata,
            async_=self.async_commit,
        )

    def load_checkpoint(
        self, path: Any, map_location: Any = None, weights_only: bool | None = None
    ) -> dict[str, Any]:
        """The checkpoint `path` names: a ref ("latest": the newest commit under it that
        verifies), a commit id, a path saved through this plugin, or a checkpoint file."""
        import torch

        name = os.fspath(path)
        found = self._find(name)
        if found is None:
            local = Path(name)
            if local.is_file():  # a plain Lightning checkpoint, e.g. one from before roar
                return dict(torch.load(local, map_location=map_location, weights_only=weights_only))
            raise NotFoundError(
                f"no ref, commit or saved checkpoint {name!r} in {self.url}; pass "
                f'ckpt_path="{self.ref}" after a first save, or ckpt_path=None to start '
                "fresh (`roar ckpt refs` lists the refs)"
            )
        manifest, directory = found
        state = directory / _STATE_FILE
        if not state.is_file():
            raise CheckpointError(
                f"commit {manifest.commit_id} in {self.url} holds no Lightning checkpoint "
                f"({_STATE_FILE}); load it with CheckpointStore.load instead"
            )
        return dict(torch.load(state, map_location=map_location, weights_only=weights_only))

    def remove_checkpoint(self, path: Any) -> None:
        """Nothing is deleted: commits are immutable, and `roar ckpt gc --keep-last N`
        deletes old ones while keeping every commit a ref still points at."""
        log.debug("roar keeps %s until `roar ckpt gc`", os.fspath(path))

    def teardown(self) -> None:
        """Wait for background commits and close the store (reopened on the next use)."""
        self._handle.close()

    # ------------------------------------------------------------------ lookup
    def _find(self, name: str) -> tuple[Manifest, Path] | None:
        store = self.store
        if _is_ref_name(name) and not name.startswith("c_"):
            try:
                store.client.get_ref(name)
            except NotFoundError:
                pass
            else:
                return open_commit(store, name)
        if name.startswith("c_"):
            try:
                return open_commit(store, name)
            except NotFoundError:
                return None
        return self._find_saved_path(name)

    def _find_saved_path(self, name: str) -> tuple[Manifest, Path] | None:
        """The newest verified commit saved for Lightning path `name` (what "best" and
        `best_model_path` name)."""
        store = self.store
        for commit in store.client.list_commits():
            if commit.manifest is None or commit.manifest.metadata.get(PATH_KEY) != name:
                continue
            try:
                return store.client.repo.materialize(commit.id, verify=True)
            except VerifyFailed:
                continue
        return None
