"""The one contract every checkpoint backend passes (local directory and S3): the three
write primitives, then the protocol and API built on them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from roar.checkpoints import (
    CheckpointStore,
    Client,
    ConflictError,
    FolderBusy,
    FolderState,
    NotFoundError,
    VerifyFailed,
)
from roar.checkpoints import store as store_module
from roar.checkpoints.backends import Backend
from roar.errors import CheckpointError
from roar.hashing import hash_bytes


def _backend(client: Client) -> Backend:
    return client.repo.backend


# ---------------------------------------------------------------- backend primitives
def test_create_is_create_only(client: Client) -> None:
    backend = _backend(client)
    backend.create("x/marker", b"first")
    with pytest.raises(ConflictError):
        backend.create("x/marker", b"second")
    assert backend.read("x/marker").data == b"first"


def test_swap_is_compare_and_swap(client: Client) -> None:
    backend = _backend(client)
    etag = backend.write("refs/r.json", b"one")
    assert backend.read("refs/r.json").etag == etag
    new = backend.swap("refs/r.json", b"two", etag)
    with pytest.raises(ConflictError):
        backend.swap("refs/r.json", b"three", etag)  # stale etag: 412
    with pytest.raises(ConflictError):
        backend.swap("refs/missing.json", b"x", etag)  # 404 on CAS is a lost race too
    assert backend.read("refs/r.json").data == b"two"
    with pytest.raises(ConflictError):
        backend.delete("refs/r.json", etag)  # guarded delete with a stale etag
    backend.delete("refs/r.json", new)
    with pytest.raises(NotFoundError):
        backend.read("refs/r.json")


def test_list_and_missing_keys(client: Client) -> None:
    backend = _backend(client)
    with pytest.raises(NotFoundError):
        backend.read("nothing/here")
    backend.write("a/1", b"1")
    backend.write("a/b/2", b"22")
    backend.write("c/3", b"333")
    assert [(e.key, e.size) for e in backend.list("a/")] == [("a/1", 1), ("a/b/2", 2)]
    backend.delete("a/1")
    backend.delete("a/1")  # absent is fine
    assert [e.key for e in backend.list("a/")] == ["a/b/2"]


# ---------------------------------------------------------------- protocol
def _write_tree(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)


FILES = {"model.bin": b"m" * 5000, "optim/state.bin": b"o" * 300, "meta.json": b"{}"}


def test_folder_commit_roundtrip(client: Client) -> None:
    folder = client.create_folder(None, "step-100")
    assert folder.state is FolderState.STAGING
    assert folder.path is not None
    _write_tree(Path(folder.path), FILES)
    commit = client.commit(folder.id, message="step 100", metadata={"step": 100})
    assert commit.state is FolderState.COMMITTED
    again = client.get_commit(commit.id)
    assert again.state is FolderState.COMMITTED
    assert again.visible
    assert again.manifest is not None
    assert again.manifest.message == "step 100"
    assert again.manifest.metadata == {"step": 100}
    assert {f.path: (f.size, f.blake3) for f in again.manifest.files} == {
        rel: (len(data), hash_bytes(data)) for rel, data in FILES.items()
    }
    node = client.get_node(folder.id)
    assert node.state is FolderState.COMMITTED  # type: ignore[union-attr]
    _, path = client.repo.materialize(commit.id)
    assert {rel: (path / rel).read_bytes() for rel in FILES} == FILES
    assert client.verify(commit.id).commit_id == commit.id
    with pytest.raises(ConflictError, match="COMMITTED"):
        client.commit(folder.id)  # immutable


def test_commit_ids_are_never_reused(client: Client) -> None:
    ids = set()
    for _ in range(3):
        folder = client.create_folder(None, "same-name")
        ids.add(client.commit(folder.id).id)
    assert len(ids) == 3
    assert [c.id for c in client.list_commits()] == sorted(ids, reverse=True)


def test_refs_move_by_compare_and_swap(client: Client) -> None:
    first = client.commit(client.create_folder(None, "a").id)
    second = client.commit(client.create_folder(None, "b").id)
    ref = client.update_ref("latest", first.id, expected=None)
    assert client.get_ref("latest").target == first.id
    with pytest.raises(ConflictError):
        client.update_ref("latest", second.id, expected=None)  # it exists now
    with pytest.raises(ConflictError):
        client.update_ref("latest", second.id, expected=second.id)  # wrong belief
    moved = client.update_ref("latest", second.id, expected=first.id)
    assert moved.generation == ref.generation + 1
    assert [r.name for r in client.list_refs()] == ["latest"]
    client.delete_ref("latest")
    with pytest.raises(NotFoundError, match="no ref 'latest'"):
        client.get_ref("latest")


def test_a_ref_cannot_point_at_an_uncommitted_commit(client: Client) -> None:
    folder = client.create_folder(None, "slow")
    assert folder.path is not None
    _write_tree(Path(folder.path), {"w.bin": b"w"})
    _, commit_id = client.repo.begin_commit(folder.id)  # SEALING, writer "died" here
    assert client.get_commit(commit_id).state is FolderState.SEALING
    with pytest.raises(CheckpointError, match="not COMMITTED"):
        client.update_ref("latest", commit_id)


def test_commit_group_is_visible_only_once_sealed(client: Client) -> None:
    group = client.create_commit_group("step-7")
    commits = []
    for rank in range(3):
        folder = client.create_folder(None, f"rank-{rank}")
        assert folder.path is not None
        _write_tree(Path(folder.path), {"shard.bin": bytes([rank]) * 10})
        commits.append(client.commit(folder.id, group_id=group.id, wait=False))
    with pytest.raises(CheckpointError, match="not sealed"):
        client.update_ref("latest", group.id)
    for commit in commits:
        assert not client.wait_for_commit(commit.id, timeout=30).visible
    sealed = client.seal_commit_group(group.id)
    assert sealed.sealed
    assert set(sealed.commits) == {c.id for c in commits}
    assert all(client.get_commit(c.id).visible for c in commits)
    client.update_ref("latest", group.id)
    with pytest.raises(ConflictError, match="sealed"):
        client.commit(client.create_folder(None, "late").id, group_id=group.id)


def test_async_commit_and_wait(client: Client) -> None:
    folder = client.create_folder(None, "bg")
    assert folder.path is not None
    _write_tree(Path(folder.path), FILES)
    pending = client.commit(folder.id, message="bg", wait=False)
    assert pending.state is FolderState.SEALING
    done = client.wait_for_commit(pending.id, timeout=30)
    assert done.state is FolderState.COMMITTED
    assert done.message == "bg"


def test_paths_nodes_and_soft_delete(client: Client) -> None:
    run = client.create_folder(None, "run-1")
    step = client.create_folder(run.id, "step-1")
    assert client.resolve_path("/run-1/step-1").id == step.id
    client.delete_node(step.id)
    assert client.get_node(step.id).deleted  # type: ignore[union-attr]
    with pytest.raises(NotFoundError):
        client.resolve_path("/run-1/step-1")
    with pytest.raises(NotFoundError, match="no folder"):
        client.get_node("f_0000")


def test_a_folder_still_being_written_is_refused(client: Client) -> None:
    folder = client.create_folder(None, "busy")
    assert folder.path is not None
    with open(Path(folder.path) / "model.bin", "wb") as writer:
        writer.write(b"half")
        with pytest.raises(FolderBusy, match="model.bin is open for writing"):
            client.commit(folder.id)
        writer.write(b" and the rest")
    assert client.get_node(folder.id).state is FolderState.STAGING  # type: ignore[union-attr]
    commit = client.commit(folder.id)  # once closed, the same folder commits
    _, path = client.repo.materialize(commit.id)
    assert (path / "model.bin").read_bytes() == b"half and the rest"


def test_a_write_during_the_commit_is_refused(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file rewritten after the barrier (here: once it is hashed, while an upload may
    still be reading it) must not commit under a hash of other bytes."""
    folder = client.create_folder(None, "racy")
    assert folder.path is not None
    model = Path(folder.path) / "model.bin"
    model.write_bytes(b"A" * 4096)

    def rewrite(point: str) -> None:
        if point == "sealed":
            with open(model, "r+b") as writer:  # same size, other bytes
                writer.write(b"B" * 4096)

    monkeypatch.setattr(store_module, "FAULT_HOOK", rewrite)
    with pytest.raises(FolderBusy, match="model.bin changed while it was being committed"):
        client.commit(folder.id)
    assert client.get_node(folder.id).state is FolderState.STAGING  # type: ignore[union-attr]
    assert client.list_commits() == []
    monkeypatch.undo()
    commit = client.commit(folder.id)  # left alone, the folder commits what it holds
    _, path = client.repo.materialize(commit.id)
    assert (path / "model.bin").read_bytes() == b"B" * 4096


# ---------------------------------------------------------------- save / load
def test_save_and_load_a_directory(ckpt_store: CheckpointStore, tmp_path: Path) -> None:
    source = tmp_path / "ckpt"
    _write_tree(source, FILES)
    first = ckpt_store.save(source, message="first")
    (source / "model.bin").write_bytes(b"newer")
    second = ckpt_store.save(source, message="second")
    assert second.parent == first.id
    loaded = ckpt_store.load()
    assert isinstance(loaded, Path)
    assert (loaded / "model.bin").read_bytes() == b"newer"
    assert (loaded / "optim" / "state.bin").read_bytes() == FILES["optim/state.bin"]
    assert ckpt_store.client.get_ref("latest").target == second.id


def test_save_and_load_state_dicts(ckpt_store: CheckpointStore) -> None:
    ckpt_store.save({"step": 3, "lr": [0.1, 0.01]}, ref="plain")
    assert ckpt_store.load("plain") == {"step": 3, "lr": [0.1, 0.01]}
    torch = pytest.importorskip("torch")
    state = {"w": torch.arange(6.0).reshape(2, 3), "step": 4}
    commit = ckpt_store.save(state)
    assert commit.manifest is not None
    assert [f.path for f in commit.manifest.files] == ["state.pt"]
    loaded = ckpt_store.load()
    assert torch.equal(loaded["w"], state["w"])
    assert loaded["step"] == 4


def test_async_save_surfaces_on_close(ckpt_store: CheckpointStore, tmp_path: Path) -> None:
    source = tmp_path / "ckpt"
    _write_tree(source, FILES)
    pending = ckpt_store.save(source, async_=True)
    assert pending.state is FolderState.SEALING
    ckpt_store.client.wait_for_commit(pending.id, timeout=30)
    assert ckpt_store.client.get_ref("latest").target == pending.id


def test_load_skips_a_commit_that_does_not_verify(
    ckpt_store: CheckpointStore, tmp_path: Path
) -> None:
    source = tmp_path / "ckpt"
    _write_tree(source, {"model.bin": b"good"})
    good = ckpt_store.save(source)
    (source / "model.bin").write_bytes(b"later")
    bad = ckpt_store.save(source)
    backend = ckpt_store.client.repo.backend
    local = backend.local_path(f"commits/{bad.id}/files/model.bin")
    if local is not None:
        os.chmod(local, 0o644)
    backend.write(f"commits/{bad.id}/files/model.bin", b"rotten")  # bit rot
    with pytest.raises(VerifyFailed, match=r"model\.bin"):
        ckpt_store.client.verify(bad.id)
    loaded = ckpt_store.load()
    assert (loaded / "model.bin").read_bytes() == b"good"
    assert ckpt_store.resolve()[0].commit_id == good.id


def test_load_of_an_unknown_ref(ckpt_store: CheckpointStore) -> None:
    with pytest.raises(NotFoundError, match="no ref 'nope'"):
        ckpt_store.load("nope")


def test_async_save_of_a_state_dict_keeps_the_state_at_save_time(
    ckpt_store: CheckpointStore,
) -> None:
    torch = pytest.importorskip("torch")
    weights = torch.zeros(1000)
    commit = ckpt_store.save({"w": weights, "step": 1}, async_=True)
    weights += 1  # the training loop goes on while the commit runs
    ckpt_store.client.wait_for_commit(commit.id, timeout=30)
    assert torch.equal(ckpt_store.load()["w"], torch.zeros(1000))


def test_async_saves_in_a_row_each_keep_their_own_state(ckpt_store: CheckpointStore) -> None:
    """Snapshot buffers are reused from one async save to the next: a later copy must
    never land in memory an earlier commit is still serializing."""
    torch = pytest.importorskip("torch")
    weights = torch.zeros(256, 256)
    commits = []
    for step in range(4):
        commits.append(ckpt_store.save({"w": weights, "step": step}, async_=True))
        weights += 1  # training goes on at once
    for commit in commits:
        ckpt_store.client.wait_for_commit(commit.id, timeout=60)
    for step, commit in enumerate(commits):
        _, path = ckpt_store.client.repo.materialize(commit.id)
        state = torch.load(path / "state.pt", weights_only=True)
        assert state["step"] == step
        assert torch.equal(state["w"], torch.full((256, 256), float(step)))
    assert ckpt_store.client.get_ref("latest").target == commits[-1].id


def test_a_rotted_download_cache_is_fetched_again(s3_env: object, tmp_path: Path) -> None:
    """S3 commits load from a local cache; a cached copy that no longer matches its
    manifest is never handed out: it is downloaded again."""
    url = f"s3://{s3_env.bucket}/rot-{tmp_path.name}"  # type: ignore[attr-defined]
    source = tmp_path / "ckpt"
    _write_tree(source, {"model.bin": b"trained weights"})
    with CheckpointStore(url, cache_dir=tmp_path / "cache") as store:
        store.save(source)
        cached = store.load()
        (cached / "model.bin").write_bytes(b"rotted weights!")  # same size, other bytes
        again = store.load()
        assert (again / "model.bin").read_bytes() == b"trained weights"


def test_an_ambiguous_commit_prefix_says_so(client: Client) -> None:
    from roar.checkpoints.checkpoint import resolve_name

    for _ in range(2):
        folder = client.create_folder(None, "x")
        Path(folder.path or "", "a").write_bytes(b"a")
        client.commit(folder.id)
    with pytest.raises(NotFoundError, match="ambiguous"):
        resolve_name(client, "c_")
