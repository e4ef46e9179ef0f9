"""RoarCheckpointIO in real Lightning trainings: a run SIGKILLed mid-training resumes in a
new process with `trainer.fit(ckpt_path="latest")` from the last committed step, with
the committed weights, and finishes; resuming from a ref that does not exist is a clear
roar error, through the Trainer and in the plugin (on a local and an S3 store)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from roar.checkpoints import CheckpointStore, NotFoundError
from roar.errors import UsageError

REPO = Path(__file__).resolve().parents[2]
EVERY_N_STEPS = 5


def _job(store: str, max_steps: int, ckpt_path: str, report: Path, sleep: float = 0.0) -> list[str]:
    return [
        sys.executable,
        "-m",
        "tests.checkpoints.lightning_job",
        store,
        str(max_steps),
        ckpt_path,
        str(report),
        str(EVERY_N_STEPS),
        str(sleep),
    ]


def _committed_step(url: str, cache: Path) -> int | None:
    with CheckpointStore(url, cache_dir=cache) as store:
        try:
            target = store.client.get_ref("latest").target
        except NotFoundError:
            return None
        manifest = store.client.get_commit(target).manifest
        assert manifest is not None
        return int(manifest.metadata["lightning.global_step"])


@pytest.mark.slow
def test_killed_training_resumes_from_the_latest_commit(tmp_path: Path) -> None:
    store_url = str(tmp_path / "store")
    cache = tmp_path / "cache"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    errors = tmp_path / "first.stderr"
    with open(errors, "wb") as stderr:
        first = subprocess.Popen(
            _job(store_url, 100_000, "-", tmp_path / "first", sleep=0.02),
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        deadline = time.monotonic() + 90
        while (_committed_step(store_url, cache) or 0) < 2 * EVERY_N_STEPS:
            assert first.poll() is None, errors.read_text()[-3000:]
            assert time.monotonic() < deadline, "no checkpoint was committed in 90 s"
            time.sleep(0.1)
    finally:
        first.kill()  # SIGKILL mid-run: no chance to finish a save or clean up
        first.wait()
    assert first.returncode == -signal.SIGKILL

    with CheckpointStore(store_url, cache_dir=cache) as store:
        committed = store.load("latest")
    step = int(committed["global_step"])
    assert step >= 2 * EVERY_N_STEPS
    assert step % EVERY_N_STEPS == 0

    resumed = subprocess.run(
        _job(store_url, step + 2 * EVERY_N_STEPS, "latest", tmp_path / "second"),
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    start = torch.load(tmp_path / "second.start.pt")
    assert start["global_step"] == step
    assert start["state_dict"].keys() == committed["state_dict"].keys()
    for name, value in committed["state_dict"].items():
        assert torch.equal(start["state_dict"][name], value), name
    assert torch.load(tmp_path / "second.end.pt")["global_step"] == step + 2 * EVERY_N_STEPS
    assert _committed_step(store_url, cache) == step + 2 * EVERY_N_STEPS


@pytest.mark.filterwarnings("ignore::UserWarning:lightning")  # Lightning's CPU-only hints
def test_resuming_from_a_missing_ref_is_a_roar_error(tmp_path: Path) -> None:
    import lightning.pytorch as pl

    from roar.checkpoints.integrations.lightning import RoarCheckpointIO
    from tests.checkpoints.lightning_job import TinyRegression

    trainer = pl.Trainer(
        plugins=[RoarCheckpointIO(tmp_path / "store")],
        max_steps=1,
        default_root_dir=str(tmp_path),
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    with pytest.raises(NotFoundError, match=r"'latest' .*ckpt_path=None to start fresh"):
        trainer.fit(TinyRegression(), ckpt_path="latest")


def test_plugin_on_local_and_s3_stores(store_url: str, cache_dir: Path, tmp_path: Path) -> None:
    from roar.checkpoints.integrations.lightning import RoarCheckpointIO

    plugin = RoarCheckpointIO(store_url, cache_dir=cache_dir)
    with pytest.raises(NotFoundError, match=r"'latest' .*ckpt_path=None to start fresh"):
        plugin.load_checkpoint("latest")
    with pytest.raises(UsageError, match="takes no storage_options"):
        plugin.save_checkpoint({"global_step": 1}, tmp_path / "a.ckpt", storage_options={})
    with pytest.raises(UsageError, match="bad ref name"):
        RoarCheckpointIO(store_url, ref="no/slashes")

    # A saved path resolves (what ckpt_path="best" becomes), and so does a commit id.
    plugin.save_checkpoint({"global_step": 3, "w": torch.ones(2)}, tmp_path / "epoch=0-step=3.ckpt")
    by_path = plugin.load_checkpoint(tmp_path / "epoch=0-step=3.ckpt")
    assert by_path["global_step"] == 3
    commit = plugin.store.client.get_ref("latest").target
    assert torch.equal(plugin.load_checkpoint(commit)["w"], torch.ones(2))
    plugin.teardown()


def test_pytorch_lightning_trainer_takes_the_plugin(tmp_path: Path) -> None:
    import pytorch_lightning

    from roar.checkpoints.integrations.pytorch_lightning import RoarCheckpointIO

    plugin = RoarCheckpointIO(tmp_path / "store")
    trainer = pytorch_lightning.Trainer(
        plugins=[plugin], accelerator="cpu", devices=1, logger=False, enable_progress_bar=False
    )
    assert trainer.strategy.checkpoint_io is plugin
