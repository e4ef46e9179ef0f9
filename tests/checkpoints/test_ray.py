"""RoarRayTrainCallback in a real Ray Train run: one TorchTrainer worker on a local Ray
(loopback only, files under a temp dir, no usage stats) reports checkpoints through
`checkpoint_upload_fn` and commits one with `process_checkpoint`; every commit verifies
and `load("latest")` is the last step. One Ray session serves the module: it is slow to
start on two cores."""

from __future__ import annotations

import json
import os
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from roar.checkpoints import CheckpointError, CheckpointStore, NotFoundError
from roar.errors import UsageError

REPO = Path(__file__).resolve().parents[2]
STEPS = 4


@pytest.fixture(scope="module", autouse=True)
def ray_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Set before Ray is first imported: it reads these once, and its workers inherit them."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RAY_USAGE_STATS_ENABLED", "0")
        # Bind and connect on 127.0.0.1, not on the machine's address.
        env.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        env.setenv("HOME", str(tmp_path_factory.mktemp("ray-home")))
        # A tiny run: the controller polls its worker often (default every 2 s), and no
        # preemption watcher (one process fewer on a two-core machine).
        env.setenv("RAY_TRAIN_HEALTH_CHECK_INTERVAL_S", "0.2")
        env.setenv("RAY_TRAIN_ENABLE_PREEMPTION_WATCHER", "0")
        # Workers import this module to run `_train_loop`.
        env.setenv("PYTHONPATH", str(REPO), prepend=os.pathsep)
        yield


@pytest.fixture(scope="module")
def ray_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    import ray

    # Ray Train installs a SIGINT handler in the driver (this test process) and leaves it:
    # put back what was there, for the tests that run after these in the same process.
    sigint = signal.getsignal(signal.SIGINT)

    ray.init(
        num_cpus=1,
        include_dashboard=False,
        _temp_dir=str(tmp_path_factory.mktemp("ray")),  # short: Ray's socket paths are long
        _node_ip_address="127.0.0.1",
        configure_logging=False,
        log_to_driver=False,
    )
    try:
        # Ray reads the loopback setting once, at import: if something imported it before
        # `ray_env`, it would listen and connect on the machine's own address.
        assert ray.util.get_node_ip_address() == "127.0.0.1", "Ray is not on loopback"
        yield ray
    finally:
        ray.shutdown()
        signal.signal(signal.SIGINT, sigint)


def _train_loop(config: dict[str, Any]) -> None:
    """One worker: a linear model, a checkpoint per step; the last one is committed with
    `process_checkpoint` (the way for a Ray without `checkpoint_upload_fn`)."""
    import ray.train

    callback = config["callback"]
    resumed_from = callback.resolve()  # None: the store is empty
    torch.manual_seed(0)
    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for step in range(config["steps"]):
        loss = (model(torch.ones(4, 2)) - 1.0).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        metrics = {"step": step, "loss": float(loss), "resumed": resumed_from is not None}
        with tempfile.TemporaryDirectory() as tmp:
            torch.save({"step": step, "model": model.state_dict()}, Path(tmp) / "model.pt")
            if step < config["steps"] - 1:
                ray.train.report(
                    metrics,
                    checkpoint=ray.train.Checkpoint.from_directory(tmp),
                    checkpoint_dir_name=f"step-{step}",
                    checkpoint_upload_fn=callback.checkpoint_upload_fn,
                )
            else:
                callback.process_checkpoint(tmp, step)
                ray.train.report(metrics)


@pytest.mark.slow
# Ray Train sets a deprecated ray.data option of its own; nothing this test can change.
@pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context")
def test_ray_train_commits_every_checkpoint(ray_session: Any, tmp_path: Path) -> None:
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    from roar.checkpoints.integrations.ray import RoarRayTrainCallback

    store_url = str(tmp_path / "store")
    callback = RoarRayTrainCallback(store_url)
    trainer = TorchTrainer(
        _train_loop,
        train_loop_config={"callback": callback, "steps": STEPS},
        scaling_config=ScalingConfig(num_workers=1),
        run_config=RunConfig(storage_path=str(tmp_path / "ray-results"), name="roar"),
    )
    result = trainer.fit()
    assert result.error is None
    assert result.metrics["step"] == STEPS - 2  # the metrics of the last reported checkpoint
    assert result.metrics["resumed"] is False

    with CheckpointStore(store_url) as store:
        commits = store.client.list_commits()
        assert [c.manifest.metadata["ray.step"] for c in commits if c.manifest] == [3, 2, 1, 0]
        for commit in commits:
            assert commit.manifest is not None
            assert commit.manifest.metadata["ray.rank"] == 0
            store.client.verify(commit.id)
        latest = store.load("latest")
    assert torch.load(Path(latest) / "model.pt")["step"] == STEPS - 1

    # Ray's own record holds pointers; each resolves to its verified commit.
    assert result.checkpoint is not None
    pointer = json.loads((Path(result.checkpoint.path) / "roar-checkpoint-rank0.json").read_text())
    assert pointer["step"] == STEPS - 2
    assert pointer["commit"] == commits[1].id
    step_dir = callback.resolve(result.checkpoint)
    assert step_dir is not None
    assert torch.load(step_dir / "model.pt")["step"] == STEPS - 2
    assert callback.resolve() == latest


def test_failures_are_roar_errors(tmp_path: Path) -> None:
    from roar.checkpoints.integrations.ray import RoarRayTrainCallback

    callback = RoarRayTrainCallback(tmp_path / "store")
    assert callback.resolve() is None  # no ref yet: a first run starts fresh
    with pytest.raises(NotFoundError, match="nothing to save"):
        callback.process_checkpoint(tmp_path / "missing", 1)
    with pytest.raises(UsageError, match="inside a Ray Train worker"):
        callback.checkpoint_upload_fn(object(), "step-1")
    (tmp_path / "plain").mkdir()
    with pytest.raises(CheckpointError, match="holds no roar pointer"):
        callback.resolve(tmp_path / "plain")
    with pytest.raises(UsageError, match="bad ref name"):
        RoarRayTrainCallback(tmp_path / "store", ref="a b")
