"""Ray Train checkpoints committed to a roar store, from inside the training function.

    roar_ckpt = RoarRayTrainCallback("s3://bucket/run-1")

    def train_fn(config):
        resume = roar_ckpt.resolve()             # newest verified commit, or None
        for step in range(start, steps):
            with tempfile.TemporaryDirectory() as tmp:
                torch.save(model.state_dict(), f"{tmp}/model.pt")
                ray.train.report(
                    {"loss": loss},
                    checkpoint=ray.train.Checkpoint.from_directory(tmp),
                    checkpoint_dir_name=f"step-{step}",
                    checkpoint_upload_fn=roar_ckpt.checkpoint_upload_fn,
                )

`checkpoint_upload_fn` commits the worker's directory and moves the ref; Ray requires a
custom upload to return a checkpoint inside its experiment directory, so it returns a
pointer there (`roar-checkpoint-rank<R>.json`: store, commit, step), and
`resolve(checkpoint)` turns one back into the verified committed directory. On a Ray
whose `report` has no `checkpoint_upload_fn`, call `process_checkpoint(dir, step)` and
then `ray.train.report(metrics)`.

Rank 0 moves `ref`; another rank R that reports a checkpoint moves `<ref>.rank<R>`.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from roar.checkpoints.integrations._optional import unavailable
from roar.checkpoints.integrations.stores import StoreHandle, StoreSpec, open_commit
from roar.checkpoints.model import Commit, check_ref_name
from roar.errors import CheckpointError, NotFoundError, UsageError

try:
    import ray.train as _train
except ImportError as exc:
    raise unavailable(exc, module="ray.train", extra="ray") from exc

__all__ = ["RoarRayTrainCallback"]

STEP_KEY = "ray.step"
RANK_KEY = "ray.rank"
_TRAILING_NUMBER = re.compile(r"(\d+)$")


def _world_rank() -> int | None:
    """This worker's rank; None outside a Ray Train worker (e.g. on the driver)."""
    try:
        return int(_train.get_context().get_world_rank())
    except RuntimeError:
        return None


def _pointer_name(rank: int) -> str:
    return f"roar-checkpoint-rank{rank}.json"


class RoarRayTrainCallback:
    """`RoarRayTrainCallback(store_url_or_store, ref="latest", **client_options)`: commits
    Ray Train checkpoints; see the module docstring. Picklable, so it can be created on
    the driver and used in the training function (each worker opens its own store)."""

    def __init__(
        self, store_url_or_store: StoreSpec, *, ref: str = "latest", **client_options: Any
    ) -> None:
        self.ref = check_ref_name(ref)
        self._handle = StoreHandle(store_url_or_store, client_options)

    @property
    def url(self) -> str:
        return self._handle.url

    def _ref_for(self, rank: int | None) -> str:
        return self.ref if not rank else f"{self.ref}.rank{rank}"

    def process_checkpoint(self, directory: str | os.PathLike[str], step: int | None) -> Commit:
        """Commit `directory` (with `step` in its metadata), move the ref, return the commit."""
        rank = _world_rank()
        metadata: dict[str, Any] = {STEP_KEY: step}
        if rank is not None:
            metadata[RANK_KEY] = rank
        message = f"ray step {step}" if step is not None else "ray checkpoint"
        return self._handle.get().save(
            directory, ref=self._ref_for(rank), message=message, metadata=metadata
        )

    def checkpoint_upload_fn(self, checkpoint: Any, checkpoint_dir_name: str) -> Any:
        """For `ray.train.report(..., checkpoint_upload_fn=...)`: commit the reported
        checkpoint, then return a pointer checkpoint in Ray's experiment directory. The
        step is the number that ends `checkpoint_dir_name` (e.g. "step-12"), if any."""
        rank = _world_rank()
        if rank is None:
            raise UsageError(
                "checkpoint_upload_fn runs inside a Ray Train worker: pass it to "
                "ray.train.report(..., checkpoint_upload_fn=...) in the training function"
            )
        number = _TRAILING_NUMBER.search(checkpoint_dir_name)
        step = int(number.group(1)) if number else None
        with checkpoint.as_directory() as local:
            commit = self.process_checkpoint(local, step)
        pointer = {"store": self.url, "commit": commit.id, "ref": self._ref_for(rank), "step": step}
        storage = _train.get_context().get_storage()
        filesystem = storage.storage_filesystem
        target = f"{storage.experiment_fs_path}/{checkpoint_dir_name}"
        filesystem.create_dir(target, recursive=True)
        with filesystem.open_output_stream(f"{target}/{_pointer_name(rank)}") as out:
            out.write(json.dumps(pointer, indent=1).encode() + b"\n")
        return _train.Checkpoint(path=target, filesystem=filesystem)

    def resolve(self, checkpoint: Any = None, *, rank: int = 0) -> Path | None:
        """A local directory of a verified commit: the one a pointer checkpoint (or its
        directory) names, or with no checkpoint the newest under the ref (None when the
        ref does not exist yet, so a first run starts fresh)."""
        store = self._handle.get()
        if checkpoint is None:
            ref = self._ref_for(rank)
            try:
                store.client.get_ref(ref)
            except NotFoundError:
                return None
            return open_commit(store, ref)[1]
        if not isinstance(checkpoint, _train.Checkpoint):  # (a Checkpoint is PathLike too)
            checkpoint = _train.Checkpoint.from_directory(checkpoint)
        with checkpoint.as_directory() as local:
            pointer_file = Path(local) / _pointer_name(rank)
            try:
                pointer = json.loads(pointer_file.read_text())
                commit_id = str(pointer["commit"])
            except (OSError, ValueError, KeyError, TypeError):
                raise CheckpointError(
                    f"{checkpoint.path} holds no roar pointer ({pointer_file.name}); it was "
                    "not reported through RoarRayTrainCallback.checkpoint_upload_fn"
                ) from None
        return open_commit(store, commit_id)[1]

    def close(self) -> None:
        self._handle.close()
