"""Item 6: a checkpoint committed inside `roar run` (or a task) is an output of that job,
and one loaded is an input, so `roar trace` of a model reaches the checkpoint it was
resumed from and the job that wrote it. On a local store and on SeaweedFS."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from roar.checkpoints import CheckpointStore
from roar.project import require_project
from tests.helpers import run_roar

TRAIN = """
import sys
from pathlib import Path
from roar.checkpoints import CheckpointStore

url, cache = sys.argv[1], sys.argv[2]
step = Path("step")
step.mkdir(exist_ok=True)
(step / "weights.bin").write_bytes(b"weights after epoch 1" * 1000)
(step / "optimizer.bin").write_bytes(b"adam moments" * 500)
with CheckpointStore(url, cache_dir=cache) as store:
    store.save(step, message="epoch 1", async_="--async" in sys.argv)
"""

FINETUNE = """
import sys
from pathlib import Path
from roar.checkpoints import CheckpointStore

url, cache = sys.argv[1], sys.argv[2]
with CheckpointStore(url, cache_dir=cache) as store:
    resumed = store.load()
weights = (resumed / "weights.bin").read_bytes()
Path("model.bin").write_bytes(weights + b" + fine-tuned")
"""


def _scripts(project: Path) -> None:
    (project / "train.py").write_text(textwrap.dedent(TRAIN))
    (project / "finetune.py").write_text(textwrap.dedent(FINETUNE))


def _roar_json(project: Path, *args: str) -> Any:
    result = run_roar(*args, cwd=project)
    assert result.code == 0, result.stderr
    return json.loads(result.stdout)


def _jobs_in_trace(trace: Any) -> list[dict[str, Any]]:
    return list(trace["jobs"])


def _job_files(project: Path, job_id: int) -> tuple[dict[str, str], dict[str, str]]:
    with require_project(project).open_store() as store:
        inputs, outputs = store.job_inputs(job_id), store.job_outputs(job_id)
    return (
        {ref.path: ref.artifact.hash for ref in inputs},
        {ref.path: ref.artifact.hash for ref in outputs},
    )


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_trace_of_a_model_reaches_the_checkpoint_it_resumed_from(
    project: Path, store_url: str, tmp_path: Path, mode: str
) -> None:
    _scripts(project)
    cache = str(tmp_path / "ckpt-cache")
    extra = ["--async"] if mode == "async" else []
    saved = run_roar("run", sys.executable, "train.py", store_url, cache, *extra, cwd=project)
    assert saved.code == 0, saved.stderr
    tuned = run_roar("run", sys.executable, "finetune.py", store_url, cache, cwd=project)
    assert tuned.code == 0, tuned.stderr

    with CheckpointStore(store_url, cache_dir=tmp_path / "check-cache") as store:
        commit = store.client.get_commit(store.client.get_ref("latest").target)
    assert commit.manifest is not None
    committed = {e.path: e.blake3 for e in commit.manifest.files}

    log = _roar_json(project, "log", "--json")
    train_job = next(j for j in log if "train.py" in " ".join(j["command"]))
    tune_job = next(j for j in log if "finetune.py" in " ".join(j["command"]))

    # the commit's files are the training job's outputs, under their stored location...
    _, train_outputs = _job_files(project, train_job["id"])
    written = {p.rsplit("/", 1)[-1]: h for p, h in train_outputs.items() if "/commits/" in p}
    assert written == committed
    assert all(f"/commits/{commit.id}/files/" in p for p in train_outputs if "/commits/" in p)
    # ...and the store's bookkeeping (staging folder, manifest, marker, ref) is not
    assert not [p for p in train_outputs if "staging" in p or p.endswith((".json", "COMMITTED"))]

    # the loaded files are the fine-tuning job's inputs, with the same hashes
    tune_inputs, _ = _job_files(project, tune_job["id"])
    loaded = {p.rsplit("/", 1)[-1]: h for p, h in tune_inputs.items() if "/commits/" in p}
    assert loaded == committed

    trace = _roar_json(project, "trace", "model.bin", "--format", "json")
    traced_ids = {job["id"] for job in _jobs_in_trace(trace)}
    assert {train_job["id"], tune_job["id"]} <= traced_ids


def test_a_task_records_the_checkpoints_it_commits_and_loads(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import roar

    monkeypatch.chdir(project)
    url = str(tmp_path / "store")
    cache = tmp_path / "cache"

    @roar.task
    def pretrain() -> str:
        folder = Path("pre")
        folder.mkdir()
        (folder / "w.bin").write_bytes(os.urandom(4096))
        with CheckpointStore(url, cache_dir=cache) as store:
            return store.save(folder, async_=True).id

    @roar.task
    def finetune() -> bytes:
        with CheckpointStore(url, cache_dir=cache) as store:
            return bytes((store.load() / "w.bin").read_bytes()[:16])

    commit_id = pretrain().load()
    finetune()

    with require_project(project).open_store() as store:
        jobs = {job.step: job for job in store.list_jobs()}
        pre_outputs = store.job_outputs(jobs["pretrain"].id)
        tune_inputs = store.job_inputs(jobs["finetune"].id)
        roots = [(ref.artifact.hash, ref.path) for ref in tune_inputs]
        walked = store.walk(roots, "up", depth=None, bound=jobs["finetune"].id)
    written = [ref for ref in pre_outputs if f"/commits/{commit_id}/files/w.bin" in ref.path]
    read = [ref for ref in tune_inputs if f"/commits/{commit_id}/files/w.bin" in ref.path]
    assert len(written) == 1, (commit_id, pre_outputs)
    assert len(read) == 1, (commit_id, tune_inputs)
    assert written[0].artifact.hash == read[0].artifact.hash
    assert jobs["pretrain"].id in walked


def test_no_journal_outside_roar(tmp_path: Path) -> None:
    """Outside any roar job a commit tells nobody and writes no journal anywhere."""
    folder = tmp_path / "ck"
    folder.mkdir()
    (folder / "a").write_bytes(b"x")
    with CheckpointStore(tmp_path / "store", cache_dir=tmp_path / "cache") as store:
        store.save(folder)
    assert not list(tmp_path.rglob("*.jsonl"))


def test_a_store_inside_the_project_records_commits_not_bookkeeping(
    project: Path, tmp_path: Path
) -> None:
    """The tracer sees the staging folder, the manifest, the marker and the ref being
    written; only the committed files are recorded, by their final paths."""
    _scripts(project)
    cache = str(tmp_path / "ckpt-cache")
    saved = run_roar("run", sys.executable, "train.py", "ckpts", cache, cwd=project)
    assert saved.code == 0, saved.stderr
    log = _roar_json(project, "log", "--json")
    _, outputs = _job_files(project, log[0]["id"])
    with CheckpointStore(project / "ckpts", cache_dir=tmp_path / "c2") as store:
        commit_id = store.client.get_ref("latest").target
    assert sorted(outputs) == [
        f"ckpts/commits/{commit_id}/files/optimizer.bin",
        f"ckpts/commits/{commit_id}/files/weights.bin",
        "step/optimizer.bin",  # the script's own files, traced as usual
        "step/weights.bin",
    ]
