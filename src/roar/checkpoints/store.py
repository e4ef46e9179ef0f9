"""The checkpoint protocol: folders move STAGING -> SEALING -> COMMITTED, commits become
visible only through a create-only marker, refs move only by compare-and-swap.

Order of a commit (a kill at any point leaves either the old state or the new one):
1. the folder's node says SEALING and names the commit id (advisory, for readers);
2. the write barrier: every file fsynced and hashed, nobody still writing (seal.py);
3. the files are published under `commits/<id>/files/` (an id never used before);
4. the manifest (paths, sizes, BLAKE3, message, metadata, parent, group) is written;
5. the COMMITTED marker, holding the manifest's BLAKE3, is created (create-only);
6. the node says COMMITTED. Only then may a ref move to the commit.

Nothing is ever deleted by a commit; `gc` deletes a commit's marker first, so a commit
half-deleted by a crash is merely invisible.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import replace
from pathlib import Path
from typing import Any

from roar.checkpoints.backends.base import Backend
from roar.checkpoints.lineage import note_commit_files
from roar.checkpoints.model import (
    COMMITTED_MARKER,
    Commit,
    FileEntry,
    Folder,
    FolderState,
    Group,
    Manifest,
    Ref,
    commit_prefix,
    decode_json,
    encode_json,
    group_seal_json,
    new_id,
    ref_key,
)
from roar.checkpoints.seal import (
    check_nobody_writes,
    check_unchanged,
    seal_directory,
)
from roar.errors import (
    CheckpointError,
    ConflictError,
    FolderBusy,
    NotFoundError,
    UsageError,
    VerifyFailed,
)
from roar.hashing import hash_bytes, hash_file

__all__ = ["FAULT_HOOK", "Repository"]

#: Tests set this to a function that may kill the process at a named step of the protocol.
FAULT_HOOK: Callable[[str], None] | None = None


def _fault(point: str) -> None:
    if FAULT_HOOK is not None:
        FAULT_HOOK(point)


class Repository:
    """The state machine over one backend. Thread-safe as long as the backend is."""

    def __init__(self, backend: Backend, cache_dir: Path) -> None:
        self.backend = backend
        self.cache_dir = cache_dir

    # ------------------------------------------------------------------ folders
    def create_folder(self, parent: str | None, name: str) -> Folder:
        if not name or "/" in name:
            raise UsageError(f"bad folder name {name!r}: give a non-empty name without '/'")
        if parent is not None:
            self.get_folder(parent)
        folder_id = new_id("f")
        path = self.backend.staging_root() / folder_id
        path.mkdir(parents=True)
        folder = Folder(folder_id, name, parent, FolderState.STAGING, time.time(), path=str(path))
        self.backend.write(f"nodes/{folder_id}.json", folder.to_json())
        return folder

    def get_folder(self, folder_id: str) -> Folder:
        try:
            blob = self.backend.read(f"nodes/{folder_id}.json")
        except NotFoundError:
            raise NotFoundError(
                f"no folder {folder_id} in {self.backend.url}; `roar ckpt list` shows commits"
            ) from None
        return Folder.from_json(blob.data)

    def _save_folder(self, folder: Folder) -> None:
        self.backend.write(f"nodes/{folder.id}.json", folder.to_json())

    def folders(self) -> list[Folder]:
        found = []
        for entry in self.backend.list("nodes/"):
            try:
                found.append(Folder.from_json(self.backend.read(entry.key).data))
            except (NotFoundError, ValueError, TypeError, KeyError):
                continue
        return found

    def delete_folder(self, folder_id: str) -> Folder:
        """Soft delete: the node is marked deleted (its commit stays until `gc`); an
        uncommitted folder's staged files are dropped."""
        folder = self.get_folder(folder_id)
        if folder.state is FolderState.STAGING and folder.path:
            shutil.rmtree(folder.path, ignore_errors=True)
        deleted = replace(folder, deleted=True)
        self._save_folder(deleted)
        return deleted

    def folder_path(self, folder: Folder) -> str:
        """The names from the root down to `folder`, like `/run-1/rank-0`."""
        names = [folder.name]
        seen = {folder.id}
        current = folder
        while current.parent is not None and current.parent not in seen:
            seen.add(current.parent)
            current = self.get_folder(current.parent)
            names.append(current.name)
        return "/" + "/".join(reversed(names))

    # ------------------------------------------------------------------ commits
    def begin_commit(
        self, folder_id: str, group_id: str | None = None, commit_id: str | None = None
    ) -> tuple[Folder, str]:
        """STAGING -> SEALING: pick the commit id (unless the caller drew one with
        `new_id("c")`) and stop accepting the folder again. A commit of a group joins it
        now, so sealing the group waits for it."""
        if group_id is not None and self.get_group(group_id).sealed:
            raise ConflictError(f"commit group {group_id} is sealed; create a new group")
        folder = self.get_folder(folder_id)
        if folder.deleted:
            raise NotFoundError(f"folder {folder_id} was deleted; create a new folder")
        if folder.state is not FolderState.STAGING:
            raise ConflictError(
                f"folder {folder_id} is {folder.state.value} (commit {folder.commit_id}); "
                "create a new folder for the next checkpoint"
            )
        commit_id = commit_id or new_id("c")
        sealing = replace(folder, state=FolderState.SEALING, commit_id=commit_id)
        self._save_folder(sealing)
        if group_id is not None:
            self.backend.write(f"groups/{group_id}/members/{commit_id}", b"")
        return sealing, commit_id

    def finish_commit(
        self,
        folder: Folder,
        commit_id: str,
        *,
        message: str = "",
        metadata: Mapping[str, Any] | None = None,
        parent: str | None = None,
        group_id: str | None = None,
    ) -> Commit:
        """SEALING -> COMMITTED; on a refused write barrier the folder is STAGING again."""
        assert folder.path is not None
        staged = Path(folder.path)
        prefix = commit_prefix(commit_id)
        try:
            stamps = check_nobody_writes(staged, folder.id)
            if self.backend.publishes_in_place:
                entries = seal_directory(staged, folder.id, sync=True)
                _fault("sealed")
                # the rename makes the sealed files the commit: refuse a write since the
                # barrier at the last moment before it
                check_unchanged(staged, folder.id, stamps)
                self.backend.publish(f"{prefix}/files", staged, [e.path for e in entries])
            else:
                entries = self._seal_while_uploading(
                    staged, folder.id, f"{prefix}/files", sorted(stamps)
                )
                check_unchanged(staged, folder.id, stamps)
        except FolderBusy:
            self._save_folder(replace(folder, state=FolderState.STAGING, commit_id=None))
            raise
        _fault("published")
        manifest = Manifest(
            commit_id=commit_id,
            folder_id=folder.id,
            name=folder.name,
            message=message,
            files=tuple(entries),
            created_at=time.time(),
            parent=parent,
            group_id=group_id,
            metadata=dict(metadata or {}),
        )
        manifest_bytes = manifest.to_json()
        self.backend.write(f"{prefix}/manifest.json", manifest_bytes)
        _fault("manifest")
        marker = encode_json({"manifest_blake3": hash_bytes(manifest_bytes)})
        self.backend.create(f"{prefix}/{COMMITTED_MARKER}", marker)
        _fault("marker")
        self._save_folder(replace(folder, state=FolderState.COMMITTED, path=None))
        if staged.exists():  # backends that copy (S3) leave the staged files behind
            shutil.rmtree(staged, ignore_errors=True)
        note_commit_files("write", self.backend, self.cache_dir, manifest)
        return Commit(commit_id, FolderState.COMMITTED, manifest, visible=group_id is None)

    def _seal_while_uploading(
        self, staged: Path, folder_id: str, prefix: str, files: list[str]
    ) -> list[FileEntry]:
        """For stores that copy (S3): hash the staged files while they upload, so the commit
        costs about one upload, not a read plus an upload. The caller checks the barrier
        before (nobody writes) and after (nothing changed while uploading and hashing);
        uploads of a folder refused late lie under a commit id never marked committed,
        which `gc` removes."""
        with ThreadPoolExecutor(1, thread_name_prefix="roar-upload") as pool:
            upload = pool.submit(self.backend.publish, prefix, staged, files)
            try:
                entries = seal_directory(staged, folder_id, sync=False)
            finally:
                wait([upload])  # never leave an upload running behind a refusal
            _fault("sealed")
            upload.result()
        return entries

    def commit(
        self,
        folder_id: str,
        *,
        message: str = "",
        metadata: Mapping[str, Any] | None = None,
        parent: str | None = None,
        group_id: str | None = None,
    ) -> Commit:
        folder, commit_id = self.begin_commit(folder_id, group_id)
        return self.finish_commit(
            folder,
            commit_id,
            message=message,
            metadata=metadata,
            parent=parent,
            group_id=group_id,
        )

    def _marker_hash(self, commit_id: str) -> str | None:
        try:
            blob = self.backend.read(f"{commit_prefix(commit_id)}/{COMMITTED_MARKER}")
        except NotFoundError:
            return None
        try:
            return str(decode_json(blob.data)["manifest_blake3"])
        except (ValueError, TypeError, KeyError):
            return ""

    def get_commit(self, commit_id: str) -> Commit:
        try:
            manifest_bytes = self.backend.read(f"{commit_prefix(commit_id)}/manifest.json").data
        except NotFoundError:
            if self._sealing_folder(commit_id) is not None:
                return Commit(commit_id, FolderState.SEALING, None)
            raise NotFoundError(
                f"no commit {commit_id} in {self.backend.url}; `roar ckpt list` shows commits"
            ) from None
        manifest = Manifest.from_json(manifest_bytes)
        marker = self._marker_hash(commit_id)
        if marker != hash_bytes(manifest_bytes):
            return Commit(commit_id, FolderState.SEALING, manifest)
        visible = (
            manifest.group_id is None or commit_id in self.get_group(manifest.group_id).commits
        )
        return Commit(commit_id, FolderState.COMMITTED, manifest, visible=visible)

    def _sealing_folder(self, commit_id: str) -> Folder | None:
        for folder in self.folders():
            if folder.commit_id == commit_id:
                return folder
        return None

    def commit_ids(self) -> list[str]:
        """Ids of every commit with a marker, oldest first."""
        suffix = "/" + COMMITTED_MARKER
        ids = [
            e.key[len("commits/") : -len(suffix)]
            for e in self.backend.list("commits/")
            if e.key.endswith(suffix) and e.key.count("/") == 2
        ]
        return sorted(ids)

    def all_commit_prefixes(self) -> list[str]:
        """Ids of every commit with anything stored (complete or not), oldest first."""
        return sorted({e.key.split("/")[1] for e in self.backend.list("commits/")})

    def verify(self, commit_id: str) -> Manifest:
        """The manifest of a complete commit whose every file has its recorded size and
        BLAKE3; otherwise `VerifyFailed` naming the first bad file."""
        commit = self.get_commit(commit_id)
        if commit.manifest is None or commit.state is not FolderState.COMMITTED:
            raise VerifyFailed("is not committed (no valid marker)", commit=commit_id, path="")
        prefix = commit_prefix(commit_id)
        scratch = self.cache_dir / "scratch"
        for entry in commit.manifest.files:
            try:
                size, digest = self.backend.digest(f"{prefix}/files/{entry.path}", scratch)
            except NotFoundError:
                raise VerifyFailed("is missing", commit=commit_id, path=entry.path) from None
            if size != entry.size or digest != entry.blake3:
                raise VerifyFailed(
                    f"has {size} bytes, BLAKE3 {digest:.12} (manifest: {entry.size} bytes, "
                    f"{entry.blake3:.12})",
                    commit=commit_id,
                    path=entry.path,
                )
        return commit.manifest

    def materialize(self, commit_id: str, *, verify: bool = True) -> tuple[Manifest, Path]:
        """A local directory holding the commit's files: in place for local stores,
        downloaded (and verified while downloading) into the cache for remote ones."""
        prefix = f"{commit_prefix(commit_id)}/files"
        local = self.backend.local_path(prefix)
        if local is not None:
            manifest = self.verify(commit_id) if verify else self._manifest(commit_id)
            note_commit_files("read", self.backend, self.cache_dir, manifest)
            return manifest, local
        manifest = self._manifest(commit_id)
        target = self._download(commit_id, manifest, verify=verify)
        note_commit_files("read", self.backend, self.cache_dir, manifest)
        return manifest, target

    def _download(self, commit_id: str, manifest: Manifest, *, verify: bool) -> Path:
        target = self.cache_dir / "commits" / hash_bytes(self.backend.url.encode())[:16] / commit_id
        if (target / ".roar-complete").exists():
            if not verify or _cached_copy_intact(target, manifest):
                return target
            shutil.rmtree(target, ignore_errors=True)  # rotted or edited: download again
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=f".{commit_id}.", dir=target.parent))
        try:
            for entry in manifest.files:
                self._fetch_file(commit_id, entry, partial / entry.path, verify=verify)
            (partial / ".roar-complete").write_bytes(b"")
            try:
                os.rename(partial, target)
            except OSError:  # another process finished the same download first
                shutil.rmtree(partial, ignore_errors=True)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        return target

    def _fetch_file(self, commit_id: str, entry: FileEntry, dest: Path, *, verify: bool) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.backend.fetch(f"{commit_prefix(commit_id)}/files/{entry.path}", dest)
        except NotFoundError:
            raise VerifyFailed("is missing", commit=commit_id, path=entry.path) from None
        if verify and (dest.stat().st_size != entry.size or hash_file(dest) != entry.blake3):
            raise VerifyFailed(
                "does not match its manifest hash", commit=commit_id, path=entry.path
            )

    def _manifest(self, commit_id: str) -> Manifest:
        commit = self.get_commit(commit_id)
        if commit.manifest is None or commit.state is not FolderState.COMMITTED:
            raise VerifyFailed("is not committed (no valid marker)", commit=commit_id, path="")
        return commit.manifest

    # ------------------------------------------------------------------ refs
    def get_ref(self, name: str) -> Ref:
        try:
            blob = self.backend.read(ref_key(name))
        except NotFoundError:
            raise NotFoundError(
                f"no ref {name!r} in {self.backend.url}; `roar ckpt refs` lists the refs"
            ) from None
        return Ref.from_json(blob.data, blob.etag)

    def refs(self) -> list[Ref]:
        found = []
        for entry in self.backend.list("refs/"):
            name = entry.key[len("refs/") : -len(".json")]
            try:
                found.append(self.get_ref(name))
            except NotFoundError:
                continue
        return found

    def _check_target(self, target: str) -> None:
        if target.startswith("g_"):
            if not self.get_group(target).sealed:
                raise CheckpointError(
                    f"commit group {target} is not sealed; call seal_commit_group first"
                )
            return
        commit = self.get_commit(target)
        if commit.state is not FolderState.COMMITTED:
            raise CheckpointError(
                f"commit {target} is {commit.state.value}, not COMMITTED; "
                "wait_for_commit before moving a ref to it"
            )
        if not commit.visible:
            raise CheckpointError(
                f"commit {target} belongs to the unsealed group "
                f"{commit.manifest.group_id if commit.manifest else '?'}; seal the group first"
            )

    def update_ref(self, name: str, target: str, *, expected: str | None | object) -> Ref:
        """Point `name` at `target` by compare-and-swap. `expected` is the target the
        caller saw (None: the ref must not exist yet); `ConflictError` when it moved."""
        self._check_target(target)
        key = ref_key(name)
        try:
            current: Ref | None = self.get_ref(name)
        except NotFoundError:
            current = None
        seen = current.target if current else None
        if expected is not _ANY and expected != seen:
            raise ConflictError(
                f"ref {name!r} points at {seen}, not {expected}; another writer moved it"
            )
        generation = current.generation + 1 if current else 1
        new = Ref(name, target, generation, time.time())
        data = new.to_json()
        _fault("ref")
        if current is None:
            try:
                etag = self.backend.create(key, data)
            except ConflictError:
                raise ConflictError(f"ref {name!r} was created by another writer") from None
        else:
            try:
                etag = self.backend.swap(key, data, current.etag)
            except ConflictError:
                raise ConflictError(f"ref {name!r} was moved by another writer") from None
        return replace(new, etag=etag)

    def delete_ref(self, name: str) -> None:
        ref = self.get_ref(name)
        try:
            self.backend.delete(ref_key(name), ref.etag)
        except ConflictError:
            raise ConflictError(f"ref {name!r} was moved by another writer") from None

    # ------------------------------------------------------------------ groups
    def create_group(self, name: str = "") -> Group:
        group = Group(new_id("g"), name, time.time())
        body = {"id": group.id, "name": name, "created_at": group.created_at}
        self.backend.create(f"groups/{group.id}/group.json", encode_json(body))
        return group

    def get_group(self, group_id: str) -> Group:
        try:
            raw = decode_json(self.backend.read(f"groups/{group_id}/group.json").data)
        except NotFoundError:
            raise NotFoundError(f"no commit group {group_id} in {self.backend.url}") from None
        group = Group(group_id, str(raw.get("name", "")), float(raw["created_at"]))
        try:
            sealed = decode_json(self.backend.read(f"groups/{group_id}/SEALED").data)
        except NotFoundError:
            return group
        return replace(group, sealed=True, commits=tuple(sealed["commits"]))

    def group_members(self, group_id: str) -> list[str]:
        prefix = f"groups/{group_id}/members/"
        return sorted(e.key[len(prefix) :] for e in self.backend.list(prefix))

    def seal_group(self, group_id: str) -> Group:
        """Make every commit of the group visible at once (create-only SEALED marker);
        refused while a member is not COMMITTED."""
        group = self.get_group(group_id)
        if group.sealed:
            return group
        members = self.group_members(group_id)
        for commit_id in members:
            if self.get_commit(commit_id).state is not FolderState.COMMITTED:
                raise CheckpointError(
                    f"commit {commit_id} of group {group_id} is not committed yet; "
                    "wait_for_commit on every member, then seal"
                )
        try:
            self.backend.create(f"groups/{group_id}/SEALED", group_seal_json(group_id, members))
        except ConflictError:
            return self.get_group(group_id)  # sealed meanwhile by another caller
        return replace(group, sealed=True, commits=tuple(members))


def _cached_copy_intact(directory: Path, manifest: Manifest) -> bool:
    """A downloaded commit still holds what its manifest says (a local re-hash: the cache
    is only as trustworthy as the disk under it)."""
    for entry in manifest.files:
        path = directory / entry.path
        try:
            if path.stat().st_size != entry.size or hash_file(path) != entry.blake3:
                return False
        except FileNotFoundError:
            return False
    return True


_ANY = object()
ANY_TARGET = _ANY
