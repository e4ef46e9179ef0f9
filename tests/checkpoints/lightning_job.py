"""A tiny Lightning training, run in its own process by test_lightning.py (so it can be
SIGKILLed): a 4->1 linear model on fixed synthetic data, a ModelCheckpoint every EVERY_N
steps, every checkpoint committed through RoarCheckpointIO.

    python -m tests.checkpoints.lightning_job STORE MAX_STEPS CKPT_PATH|- REPORT EVERY_N [SLEEP]

REPORT.start.pt gets the global step and weights the fit starts from (after any
restore), REPORT.end.pt the global step it ended at.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint

from roar.checkpoints.integrations.lightning import RoarCheckpointIO


class TinyRegression(pl.LightningModule):
    def __init__(self, sleep: float = 0.0) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(4, 1)
        self.sleep = sleep

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        if self.sleep:
            time.sleep(self.sleep)  # slow enough to be killed mid-run
        x, y = batch
        return torch.nn.functional.mse_loss(self.linear(x), y)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.05)

    def train_dataloader(self) -> torch.utils.data.DataLoader[Any]:
        generator = torch.Generator().manual_seed(0)
        x = torch.randn(64, 4, generator=generator)
        y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
        return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=8)


class Report(Callback):
    def __init__(self, report: Path) -> None:
        self.report = report

    def on_train_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        state = {k: v.detach().clone() for k, v in module.state_dict().items()}
        start = {"global_step": trainer.global_step, "state_dict": state}
        torch.save(start, f"{self.report}.start.pt")

    def on_train_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        torch.save({"global_step": trainer.global_step}, f"{self.report}.end.pt")


def main(argv: list[str]) -> None:
    store, max_steps, ckpt_path, report, every_n = argv[:5]
    sleep = float(argv[5]) if len(argv) > 5 else 0.0
    torch.manual_seed(0)
    trainer = pl.Trainer(
        plugins=[RoarCheckpointIO(store)],
        callbacks=[
            ModelCheckpoint(every_n_train_steps=int(every_n), save_top_k=-1),
            Report(Path(report)),
        ],
        max_steps=int(max_steps),
        default_root_dir=str(Path(report).parent / "lightning"),
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(TinyRegression(sleep), ckpt_path=None if ckpt_path == "-" else ckpt_path)


if __name__ == "__main__":
    main(sys.argv[1:])
