"""Checkpoint stores inside training frameworks, each an optional extra loaded on first use.

    roar.checkpoints.integrations.lightning.RoarCheckpointIO        pip install 'roar[lightning]'
    roar.checkpoints.integrations.huggingface.RoarTrainerCallback   pip install 'roar[huggingface]'
    roar.checkpoints.integrations.ray.RoarRayTrainCallback          pip install 'roar[ray]'
    roar.checkpoints.latest_checkpoint                              (no extra)

Importing this package imports none of the frameworks: each adapter module imports its
own, and a missing one raises `IntegrationUnavailable` (an ImportError) naming the extra.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from roar.lazy import lazy_names

__all__ = ["RoarCheckpointIO", "RoarRayTrainCallback", "RoarTrainerCallback", "latest_checkpoint"]

_MODULES = {
    "RoarCheckpointIO": "lightning",
    "RoarRayTrainCallback": "ray",
    "RoarTrainerCallback": "huggingface",
    "latest_checkpoint": "latest",
}

if TYPE_CHECKING:
    from roar.checkpoints.integrations.huggingface import RoarTrainerCallback
    from roar.checkpoints.integrations.latest import latest_checkpoint
    from roar.checkpoints.integrations.lightning import RoarCheckpointIO
    from roar.checkpoints.integrations.ray import RoarRayTrainCallback


__getattr__ = lazy_names(
    __name__, {name: f"{__name__}.{module}" for name, module in _MODULES.items()}
)
