"""Lightning (`lightning.pytorch`) checkpoints as atomic roar commits.

    from roar.checkpoints.integrations.lightning import RoarCheckpointIO

    trainer = Trainer(
        plugins=[RoarCheckpointIO("s3://bucket/run-1")],      # or a local directory
        callbacks=[ModelCheckpoint(every_n_train_steps=500)],
    )
    trainer.fit(model, ckpt_path="latest")   # resume; on the very first run: ckpt_path=None

Every checkpoint Lightning saves becomes one commit and moves the ref (`latest` by
default); `ckpt_path="latest"` (or any ref name, or a commit id) loads the newest commit
under it whose files verify. `pytorch_lightning` users import the same class from
`roar.checkpoints.integrations.pytorch_lightning`.
"""

from __future__ import annotations

from roar.checkpoints.integrations._lightning_io import RoarCheckpointIOMethods
from roar.checkpoints.integrations._optional import unavailable

try:
    from lightning.fabric.plugins import CheckpointIO
except ImportError as exc:
    raise unavailable(exc, module="lightning", extra="lightning") from exc

__all__ = ["RoarCheckpointIO"]


class RoarCheckpointIO(RoarCheckpointIOMethods, CheckpointIO):  # type: ignore[misc]
    # (misc: Lightning's base class is Any to mypy, which does not read Lightning.)
    """`RoarCheckpointIO(url, ref="latest", async_commit=False, **client_options)`: a
    Lightning `CheckpointIO` whose saves are roar commits; see the module docstring."""
