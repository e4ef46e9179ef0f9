"""Hugging Face Trainer checkpoints committed to a roar store as they are saved.

    from roar.checkpoints import latest_checkpoint
    from roar.checkpoints.integrations.huggingface import RoarTrainerCallback

    trainer = Trainer(..., callbacks=[RoarTrainerCallback("s3://bucket/run-1")])
    trainer.train(resume_from_checkpoint=latest_checkpoint(args.output_dir))

After the Trainer writes `checkpoint-N`, the callback commits that folder (on the world's
process zero only) and moves the ref. `latest_checkpoint` then returns the newest folder
that is complete, which the Trainer's own `get_last_checkpoint` does not check.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from roar.checkpoints.integrations._optional import unavailable
from roar.checkpoints.integrations.hf_dir import (
    DEFAULT_STORE_DIR,
    RUN_KEY,
    STEP_KEY,
    write_link,
)
from roar.checkpoints.integrations.stores import StoreHandle, StoreSpec
from roar.checkpoints.model import Commit, check_ref_name
from roar.errors import NotFoundError

try:
    from transformers import TrainerCallback
except ImportError as exc:
    raise unavailable(exc, module="transformers", extra="huggingface") from exc

__all__ = ["RoarTrainerCallback"]


class RoarTrainerCallback(TrainerCallback):  # type: ignore[misc]
    # (misc: TrainerCallback is Any to mypy, which does not read transformers.)
    """`RoarTrainerCallback(store_url_or_store=None, update_ref="latest",
    async_commit=False, **client_options)`.

    With no store, commits go to `<output_dir>/roar-checkpoints`. `async_commit=True`
    copies the folder and returns at once; the commit finishes in the background, and the
    end of training waits for it.
    """

    def __init__(
        self,
        store_url_or_store: StoreSpec | None = None,
        update_ref: str = "latest",
        async_commit: bool = False,
        **client_options: Any,
    ) -> None:
        super().__init__()
        self.update_ref = check_ref_name(update_ref)
        self.async_commit = async_commit
        self._spec = store_url_or_store
        self._client_options = client_options
        self._handle: StoreHandle | None = None
        self.last_commit: Commit | None = None

    def _store_handle(self, output_dir: Path) -> StoreHandle:
        if self._handle is None:
            spec = self._spec if self._spec is not None else output_dir / DEFAULT_STORE_DIR
            self._handle = StoreHandle(spec, self._client_options)
        return self._handle

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not state.is_world_process_zero:
            return
        output_dir = Path(args.output_dir)
        step = int(state.global_step)
        folder = output_dir / f"checkpoint-{step}"
        if not folder.is_dir():
            raise NotFoundError(
                f"the Trainer saved no {folder}; RoarTrainerCallback commits "
                "`<output_dir>/checkpoint-<global_step>` (hyperparameter search runs are "
                "not supported)"
            )
        handle = self._store_handle(output_dir)
        link = write_link(output_dir, handle.url, self.update_ref)
        metadata: dict[str, Any] = {STEP_KEY: step, RUN_KEY: link.run}
        if state.epoch is not None:
            metadata["hf.epoch"] = float(state.epoch)
        self.last_commit = handle.get().save(
            folder,
            ref=self.update_ref,
            message=folder.name,
            metadata=metadata,
            async_=self.async_commit,
        )

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Wait for background commits (raising a failed one) and release the store."""
        if self._handle is not None:
            self._handle.close()
