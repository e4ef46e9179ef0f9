"""RoarTrainerCallback and latest_checkpoint with a real Hugging Face Trainer: a tiny GPT-2
initialised at random (nothing downloaded) trains on CPU; a partial `checkpoint-N` that
the Trainer's own `get_last_checkpoint` would pick is skipped, and training resumes from
what `latest_checkpoint` returns and finishes."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from roar.checkpoints import CheckpointError, CheckpointStore, NotFoundError, latest_checkpoint
from roar.errors import UsageError

SAVE_STEPS = 2


class _Dataset:
    """32 short token sequences; the model learns to continue a count modulo 32."""

    def __len__(self) -> int:
        return 32

    def __getitem__(self, index: int) -> dict[str, Any]:
        import torch

        ids = torch.tensor([(index + k) % 32 for k in range(8)])
        return {"input_ids": ids, "labels": ids}


def _train(output_dir: Path, max_steps: int, resume: str | None, *callbacks: Any) -> Any:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainingArguments

    torch.manual_seed(0)
    tiny = {"n_layer": 1, "n_head": 2, "n_embd": 16, "n_positions": 16}
    config = GPT2Config(vocab_size=32, bos_token_id=0, eos_token_id=0, **tiny)
    args = TrainingArguments(
        output_dir=str(output_dir),
        max_steps=max_steps,
        save_steps=SAVE_STEPS,
        per_device_train_batch_size=4,
        use_cpu=True,
        report_to=[],
        logging_strategy="no",
        disable_tqdm=True,
        dataloader_num_workers=0,
    )
    trainer = Trainer(
        model=GPT2LMHeadModel(config),
        args=args,
        train_dataset=_Dataset(),  # type: ignore[arg-type]
        callbacks=list(callbacks),
    )
    trainer.train(resume_from_checkpoint=resume)
    return trainer


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One training of 6 steps, a checkpoint every 2, each committed to the default store
    (`<output_dir>/roar-checkpoints`); tests work on copies."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HOME", str(tmp_path_factory.mktemp("hf-home")))
        env.setenv("HF_HUB_OFFLINE", "1")
        from roar.checkpoints.integrations.huggingface import RoarTrainerCallback

        output_dir = tmp_path_factory.mktemp("hf") / "out"
        _train(output_dir, 6, None, RoarTrainerCallback())
        yield output_dir


@pytest.fixture
def output_dir(trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    copy = tmp_path / "out"
    shutil.copytree(trained, copy)
    return copy


def _leave_partial_checkpoint(output_dir: Path, step: int) -> Path:
    """What a kill while the Trainer writes `checkpoint-<step>` leaves: config and a cut-off
    weights file, no trainer_state.json, no roar commit."""
    partial = output_dir / f"checkpoint-{step}"
    partial.mkdir()
    shutil.copy(output_dir / "checkpoint-6" / "config.json", partial)
    weights = (output_dir / "checkpoint-6" / "model.safetensors").read_bytes()
    (partial / "model.safetensors").write_bytes(weights[: len(weights) // 2])
    return partial


def _start_recorder() -> Any:
    """A callback that records the step and weights a training starts from (after the
    Trainer's restore). Built here so that collecting this module imports no transformers."""
    from transformers import TrainerCallback

    class StartRecorder(TrainerCallback):  # type: ignore[misc]
        def __init__(self) -> None:
            self.start_step: int | None = None
            self.start_weights: dict[str, Any] = {}

        def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.start_step = state.global_step
            weights = kw["model"].state_dict()
            self.start_weights = {k: v.detach().clone() for k, v in weights.items()}

    return StartRecorder()


@pytest.mark.slow
def test_resume_skips_a_partial_checkpoint(output_dir: Path) -> None:
    import torch
    from safetensors.torch import load_file
    from transformers.trainer_utils import get_last_checkpoint

    from roar.checkpoints.integrations.huggingface import RoarTrainerCallback

    store_dir = output_dir / "roar-checkpoints"
    link = json.loads((output_dir / "roar-store.json").read_text())
    assert link["url"] == "roar-checkpoints"
    with CheckpointStore(store_dir) as store:
        commits = store.client.list_commits()
        assert [c.manifest.metadata["hf.step"] for c in commits if c.manifest] == [6, 4, 2]
        for commit in commits:
            assert commit.manifest is not None
            assert commit.manifest.metadata["hf.run"] == link["run"]
            store.client.verify(commit.id)

    partial = _leave_partial_checkpoint(output_dir, 8)
    assert get_last_checkpoint(str(output_dir)) == str(partial)
    resume = latest_checkpoint(output_dir)
    assert resume == str(output_dir / "checkpoint-6")

    recorder = _start_recorder()
    trainer = _train(output_dir, 10, resume, RoarTrainerCallback(async_commit=True), recorder)
    assert recorder.start_step == 6
    saved = load_file(str(output_dir / "checkpoint-6" / "model.safetensors"))
    for name, value in saved.items():
        assert torch.equal(recorder.start_weights[name], value), name
    assert trainer.state.global_step == 10

    assert latest_checkpoint(output_dir) == str(output_dir / "checkpoint-10")
    committed = latest_checkpoint(store_dir)
    assert committed is not None
    assert Path(committed).is_relative_to(store_dir)
    assert json.loads((Path(committed) / "trainer_state.json").read_text())["global_step"] == 10


def test_a_commit_that_does_not_verify_is_skipped(output_dir: Path) -> None:
    store_dir = output_dir / "roar-checkpoints"
    with CheckpointStore(store_dir) as store:
        newest = store.client.get_ref("latest").target
    weights = store_dir / "commits" / newest / "files" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # same size, other bytes: only the BLAKE3 check sees it
    weights.write_bytes(bytes(data))

    # checkpoint-6 is whole on disk, but its commit no longer verifies.
    assert latest_checkpoint(output_dir) == str(output_dir / "checkpoint-4")
    fallback = latest_checkpoint(store_dir)  # falls back along the ref's parents
    assert fallback is not None
    assert json.loads((Path(fallback) / "trainer_state.json").read_text())["global_step"] == 4

    # A folder rotated away (save_total_limit) still resumes from its verified commit.
    shutil.rmtree(output_dir / "checkpoint-4")
    restored = latest_checkpoint(output_dir)
    assert restored is not None
    assert Path(restored).is_relative_to(store_dir)
    assert json.loads((Path(restored) / "trainer_state.json").read_text())["global_step"] == 4


def test_plain_output_dir_uses_the_trainers_signals(output_dir: Path, tmp_path: Path) -> None:
    (output_dir / "roar-store.json").unlink()
    shutil.rmtree(output_dir / "roar-checkpoints")
    _leave_partial_checkpoint(output_dir, 8)
    assert latest_checkpoint(output_dir) == str(output_dir / "checkpoint-6")
    (output_dir / "checkpoint-6" / "trainer_state.json").unlink()
    assert latest_checkpoint(output_dir) == str(output_dir / "checkpoint-4")
    assert latest_checkpoint(tmp_path / "missing") is None  # a first run starts fresh


def test_failures_are_roar_errors(tmp_path: Path) -> None:
    from transformers import TrainerControl, TrainerState, TrainingArguments

    from roar.checkpoints.integrations.huggingface import RoarTrainerCallback

    with pytest.raises(UsageError, match="bad ref name"):
        latest_checkpoint(tmp_path, ref="a/b")
    with pytest.raises(UsageError, match="bad ref name"):
        RoarTrainerCallback(update_ref="")

    callback = RoarTrainerCallback(tmp_path / "store")
    args = TrainingArguments(output_dir=str(tmp_path / "out"), use_cpu=True, report_to=[])
    with pytest.raises(NotFoundError, match=r"the Trainer saved no .*checkpoint-7"):
        callback.on_save(args, TrainerState(global_step=7), TrainerControl())
    # Other processes of a distributed run commit nothing (and so fail nothing).
    other_rank = TrainerState(global_step=7, is_world_process_zero=False)
    assert callback.on_save(args, other_rank, TrainerControl()) is None

    with CheckpointStore(tmp_path / "store") as store:
        assert latest_checkpoint(tmp_path / "store") is None  # no ref yet: start fresh
        store.save({"step": 1})
    with pytest.raises(CheckpointError, match="is a saved state dict"):
        latest_checkpoint(tmp_path / "store")
