"""`CheckpointStore`: the short path most users want, `save` and `load` of the latest.

A saved directory comes back as a local directory path; a saved state dict comes back as
the object. State dicts holding torch tensors are written with `torch.save` (`state.pt`,
read back with `torch.load(weights_only=...)`); anything else with `pickle` (`state.pkl`).
Only load state dicts from stores you trust: unpickling runs code.
"""

from __future__ import annotations

import os
import pickle
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from roar.checkpoints.client import Client
from roar.checkpoints.model import Commit, Folder, FolderState, Manifest, check_ref_name, new_id
from roar.checkpoints.snapshot import SnapshotBuffers, holds_tensors
from roar.errors import CheckpointError, ConflictError, NotFoundError, VerifyFailed

__all__ = ["CheckpointStore", "resolve_name", "restore"]

_KIND = "roar.kind"
_SERIALIZER = "roar.serializer"
_REF_RETRIES = 20


def _copy_into(source: Path, target: Path) -> None:
    if source.is_dir():
        shutil.copytree(source, target, dirs_exist_ok=True)
    else:
        shutil.copy2(source, target / source.name)


class CheckpointStore:
    """`store = CheckpointStore("s3://bucket/run-1")`; `store.save(model.state_dict())`;
    after a crash, `state = store.load()` is the newest checkpoint that verifies."""

    def __init__(self, url: str | os.PathLike[str], **client_options: Any) -> None:
        self.client = Client(url, **client_options)
        self._buffers = SnapshotBuffers()

    # ------------------------------------------------------------------ save
    def save(
        self,
        checkpoint: str | os.PathLike[str] | Any,
        *,
        ref: str = "latest",
        message: str = "",
        metadata: Mapping[str, Any] | None = None,
        async_: bool = False,
    ) -> Commit:
        """Commit a directory (or file), or a state dict, and move `ref` to it.

        With `async_` the calling thread only copies the checkpoint (a directory into a
        staging folder, a state dict into memory) and everything else runs in the
        background, one commit at a time: a second async save first waits for the one
        before it. A failure is raised by the next `save` or by `close`."""
        check_ref_name(ref)
        self.client.raise_failures()
        extra = dict(metadata or {})
        if isinstance(checkpoint, str | os.PathLike):
            source = Path(checkpoint)
            if not source.exists():
                raise NotFoundError(f"nothing to save at {source}; pass a directory or file")
            extra[_KIND] = "directory"
            return self._save_directory(source, ref, message, extra, async_)
        extra[_KIND] = "state_dict"
        extra[_SERIALIZER] = "torch" if holds_tensors(checkpoint) else "pickle"
        if not async_:
            folder = self.client.create_folder(None, "state_dict")
            self._serialize(checkpoint, Path(folder.path or ""), extra[_SERIALIZER])
            return self._commit(folder, new_id("c"), ref, message, extra)
        commit_id = new_id("c")
        taken: list[tuple[Any, dict[Any, Any]]] = []

        def copy_state() -> None:  # in this thread, once the commit before has let go
            taken.append(self._buffers.take(checkpoint))

        def finish() -> Commit:
            state, buffers = taken.pop()
            folder = self.client.create_folder(None, "state_dict")
            try:
                self._serialize(state, Path(folder.path or ""), extra[_SERIALIZER])
            finally:
                del state
                self._buffers.give_back(buffers)
            return self._commit(folder, commit_id, ref, message, extra)

        self.client.submit(commit_id, finish, prepare=copy_state)
        return Commit(commit_id, FolderState.SEALING, None)

    def _save_directory(
        self, source: Path, ref: str, message: str, extra: dict[str, Any], async_: bool
    ) -> Commit:
        folder = self.client.create_folder(None, source.name or "checkpoint")
        commit_id = new_id("c")
        if not async_:
            _copy_into(source, Path(folder.path or ""))
            return self._commit(folder, commit_id, ref, message, extra)
        self.client.submit(
            commit_id,
            lambda: self._commit(folder, commit_id, ref, message, extra),
            prepare=lambda: _copy_into(source, Path(folder.path or "")),
        )
        return Commit(commit_id, FolderState.SEALING, None)

    def _commit(
        self, folder: Folder, commit_id: str, ref: str, message: str, extra: dict[str, Any]
    ) -> Commit:
        """Seal, publish and mark the staged folder, then move `ref` to it."""
        parent = self._current_target(ref)
        repo = self.client.repo
        staged, _ = repo.begin_commit(folder.id, commit_id=commit_id)
        commit = repo.finish_commit(
            staged, commit_id, message=message, metadata=extra, parent=parent
        )
        self._advance(ref, commit_id)
        return commit

    @staticmethod
    def _serialize(state: Any, directory: Path, serializer: str) -> None:
        if serializer == "torch":
            import torch

            torch.save(state, directory / "state.pt")
            return
        with open(directory / "state.pkl", "wb") as handle:
            pickle.dump(state, handle, protocol=pickle.HIGHEST_PROTOCOL)

    def _current_target(self, ref: str) -> str | None:
        try:
            return self.client.get_ref(ref).target
        except NotFoundError:
            return None

    def _advance(self, ref: str, commit_id: str) -> None:
        """Move `ref` forward to `commit_id`, never back past a newer commit."""
        for _ in range(_REF_RETRIES):
            current = self._current_target(ref)
            if current is not None and current >= commit_id:
                return
            try:
                self.client.update_ref(ref, commit_id, expected=current)
            except ConflictError:
                continue
            return
        raise ConflictError(f"ref {ref!r} kept moving; {commit_id} is committed but not on it")

    # ------------------------------------------------------------------ load
    def resolve(self, ref: str = "latest", *, verify: bool = True) -> tuple[Manifest, Path]:
        """The newest commit under `ref` that verifies, and a local directory of its
        files. A commit that fails verification is skipped for its parent."""
        target = self.client.get_ref(ref).target
        if target.startswith("g_"):
            raise CheckpointError(
                f"ref {ref!r} points at commit group {target}; load its commits with "
                "Client.get_commit_group"
            )
        first_error: CheckpointError | None = None
        commit_id: str | None = target
        tried: set[str] = set()
        while commit_id is not None and commit_id not in tried:
            tried.add(commit_id)
            try:
                return self.client.repo.materialize(commit_id, verify=verify)
            except (VerifyFailed, NotFoundError) as exc:
                first_error = first_error or exc
                commit_id = self._parent_of(commit_id, tried)
        assert first_error is not None
        raise first_error

    def _parent_of(self, commit_id: str, tried: set[str]) -> str | None:
        try:
            commit = self.client.get_commit(commit_id)
        except NotFoundError:
            commit = None
        if commit is not None and commit.manifest is not None:
            return commit.manifest.parent
        older = [c for c in self.client.repo.commit_ids() if c < commit_id and c not in tried]
        return older[-1] if older else None

    def load(
        self,
        ref: str = "latest",
        *,
        verify: bool = True,
        map_location: Any = None,
        weights_only: bool = True,
    ) -> Any:
        """A saved directory's local path, or a saved state dict, of the newest verified
        commit under `ref`."""
        manifest, path = self.resolve(ref, verify=verify)
        kind = manifest.metadata.get(_KIND, "directory")
        if kind != "state_dict":
            return path
        if manifest.metadata.get(_SERIALIZER) == "torch":
            import torch

            return torch.load(
                path / "state.pt", map_location=map_location, weights_only=weights_only
            )
        with open(path / "state.pkl", "rb") as handle:
            return pickle.load(handle)  # noqa: S301 - the user's own store

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            self._buffers.clear()

    def __enter__(self) -> CheckpointStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def resolve_name(client: Client, name: str) -> str:
    """A ref name, a commit id, or a unique prefix (>= 6 chars) of one -> a commit id."""
    if name.startswith("c_"):
        matches = [c for c in client.repo.all_commit_prefixes() if c.startswith(name)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise NotFoundError(
                f"commit prefix {name!r} is ambiguous ({len(matches)} commits); give more "
                "characters"
            )
        raise NotFoundError(f"no commit {name!r} in {client.url}; `roar ckpt list` shows them")
    return client.get_ref(name).target


def restore(client: Client, name: str, dest: Path) -> Manifest:
    """Verify the commit `name` (ref or commit id) and copy its files into `dest`, a new
    or empty directory."""
    if dest.exists() and any(dest.iterdir()):
        raise CheckpointError(f"{dest} is not empty; restore into a new directory")
    manifest, source = client.repo.materialize(resolve_name(client, name), verify=True)
    dest.mkdir(parents=True, exist_ok=True)
    for entry in manifest.files:
        (dest / entry.path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / entry.path, dest / entry.path)
    return manifest
