"""`RoarCheckpointIO` for the standalone `pytorch_lightning` package, whose Trainer accepts
only its own `lightning_fabric` base class; it behaves exactly like the `lightning` one."""

from __future__ import annotations

from roar.checkpoints.integrations._lightning_io import RoarCheckpointIOMethods
from roar.checkpoints.integrations._optional import unavailable

try:
    from lightning_fabric.plugins import CheckpointIO
except ImportError as exc:
    raise unavailable(exc, module="pytorch_lightning", extra="lightning") from exc

__all__ = ["RoarCheckpointIO"]


class RoarCheckpointIO(RoarCheckpointIOMethods, CheckpointIO):  # type: ignore[misc]
    # (misc: the base class is Any to mypy, which does not read pytorch_lightning.)
    """`RoarCheckpointIO(url, ref="latest", async_commit=False, **client_options)`."""
