"""`Client`: the checkpoint store API in Roset's terms (folders, commits, refs, commit
groups), over any backend, with retries and background commits."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from roar.checkpoints.backends import BackendSettings, open_backend
from roar.checkpoints.committer import Committer
from roar.checkpoints.model import Commit, Folder, FolderState, Group, Manifest, Ref
from roar.checkpoints.retry import RetryingBackend
from roar.checkpoints.store import ANY_TARGET, Repository
from roar.config import Config, load_config
from roar.errors import CommitTimeout, NotFoundError

__all__ = ["Client"]

_POLL_SECONDS = 0.05


def _config() -> Config:
    from roar.project import find_project

    project = find_project()
    return load_config(project.root if project else None)


class Client:
    """A connection to one checkpoint store: `Client("/data/ckpt")` or
    `Client("s3://bucket/prefix", timeout=10, max_retries=5)`.

    Settings not given here come from roar's config (`checkpoints.*`), then from the
    usual AWS environment variables; credentials come from boto3's own chain.
    """

    def __init__(
        self,
        url: str | os.PathLike[str],
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
        endpoint_url: str | None = None,
        region: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        max_in_flight: int = 1,
        retry_base_delay: float = 0.05,
    ) -> None:
        config = _config()
        configured_cache = config.get("checkpoints.cache_dir")
        cache = (
            Path(cache_dir)
            if cache_dir is not None
            else Path(str(configured_cache))
            if configured_cache
            else Path.home() / ".cache" / "roar" / "checkpoints"
        )
        settings = BackendSettings(
            endpoint_url=endpoint_url
            or _str(config.get("checkpoints.s3_endpoint_url"))
            or os.environ.get("AWS_ENDPOINT_URL_S3")
            or os.environ.get("AWS_ENDPOINT_URL"),
            region=region
            or _str(config.get("checkpoints.s3_region"))
            or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION"),
            timeout=float(timeout if timeout is not None else _int(config, "checkpoints.timeout")),
            cache_dir=cache,
        )
        retries = (
            max_retries if max_retries is not None else _int(config, "checkpoints.max_retries")
        )
        self.url = os.fspath(url)
        backend = RetryingBackend(open_backend(self.url, settings), retries, retry_base_delay)
        self.repo = Repository(backend, cache)
        self._committer = Committer(max_in_flight)

    # ------------------------------------------------------------------ nodes
    def create_folder(self, parent: str | None = None, name: str = "checkpoint") -> Folder:
        """A new STAGING folder; write files under `folder.path`, then `commit`."""
        return self.repo.create_folder(parent, name)

    def get_node(self, node_id: str) -> Folder | Commit | Group:
        if node_id.startswith("c_"):
            return self.get_commit(node_id)
        if node_id.startswith("g_"):
            return self.repo.get_group(node_id)
        return self.repo.get_folder(node_id)

    def delete_node(self, node_id: str) -> None:
        """Soft delete of a folder: hidden from `resolve_path`, its commit kept until gc."""
        self.repo.delete_folder(node_id)

    def resolve_path(self, path: str) -> Folder:
        """The folder at `/name/child/...` (the newest one, when names repeat)."""
        names = [part for part in path.split("/") if part]
        if not names:
            raise NotFoundError(f"empty path {path!r}; give /folder[/child...]")
        folders = [f for f in self.repo.folders() if not f.deleted]
        parent: str | None = None
        found: Folder | None = None
        for name in names:
            matches = [f for f in folders if f.name == name and f.parent == parent]
            if not matches:
                raise NotFoundError(f"no folder {path!r} in {self.url}")
            found = max(matches, key=lambda f: f.id)
            parent = found.id
        assert found is not None
        return found

    # ------------------------------------------------------------------ commits
    def commit(
        self,
        folder_id: str,
        *,
        message: str = "",
        group_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        parent: str | None = None,
        wait: bool = True,
    ) -> Commit:
        """Seal and commit a folder. With `wait=False` the sealing, upload and marker run
        in a background thread: the returned commit is SEALING; `wait_for_commit` it."""
        folder, commit_id = self.repo.begin_commit(folder_id, group_id)

        def finish() -> Commit:
            return self.repo.finish_commit(
                folder,
                commit_id,
                message=message,
                metadata=metadata,
                parent=parent,
                group_id=group_id,
            )

        if wait:
            return finish()
        self._committer.submit(commit_id, finish)
        return Commit(commit_id, FolderState.SEALING, None)

    def wait_for_commit(self, commit_id: str, timeout: float | None = None) -> Commit:
        """The commit once COMMITTED; its error if it failed in this process;
        `CommitTimeout` when `timeout` seconds pass first."""
        if self._committer.pending(commit_id):
            result = self._committer.wait(commit_id, timeout)
            assert isinstance(result, Commit)
            return self.get_commit(commit_id)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            commit = self.get_commit(commit_id)
            if commit.state is FolderState.COMMITTED:
                return commit
            if deadline is not None and time.monotonic() >= deadline:
                raise CommitTimeout(commit=commit_id, timeout=timeout)
            time.sleep(_POLL_SECONDS)

    def get_commit(self, commit_id: str) -> Commit:
        return self.repo.get_commit(commit_id)

    def list_commits(self) -> list[Commit]:
        """Every complete commit, newest first."""
        return [self.repo.get_commit(c) for c in reversed(self.repo.commit_ids())]

    def verify(self, commit_id: str) -> Manifest:
        return self.repo.verify(commit_id)

    # ------------------------------------------------------------------ refs
    def update_ref(self, name: str, commit_id: str, *, expected: Any = ANY_TARGET) -> Ref:
        """Move ref `name` to `commit_id` (or a sealed group) by compare-and-swap.

        `expected` is the target you last saw (None: the ref must not exist); without it,
        the value read just before the swap. A writer that lost the race gets
        `ConflictError` and nothing changed."""
        return self.repo.update_ref(name, commit_id, expected=expected)

    def get_ref(self, name: str) -> Ref:
        return self.repo.get_ref(name)

    def list_refs(self) -> list[Ref]:
        return self.repo.refs()

    def delete_ref(self, name: str) -> None:
        self.repo.delete_ref(name)

    # ------------------------------------------------------------------ groups
    def create_commit_group(self, name: str = "") -> Group:
        return self.repo.create_group(name)

    def seal_commit_group(self, group_id: str, timeout: float | None = None) -> Group:
        """Wait for the group's commits made here, then make them all visible at once."""
        for commit_id in self.repo.group_members(group_id):
            if self._committer.pending(commit_id):
                self.wait_for_commit(commit_id, timeout)
        return self.repo.seal_group(group_id)

    def get_commit_group(self, group_id: str) -> Group:
        return self.repo.get_group(group_id)

    # ------------------------------------------------------------------ lifetime
    def raise_failures(self) -> None:
        """Re-raise the first background commit failure not yet reported."""
        self._committer.raise_failures()

    def submit(self, key: str, work: Any, prepare: Any = None) -> None:
        self._committer.submit(key, work, prepare)

    def close(self) -> None:
        """Wait for background commits (re-raising a failure), then release the backend."""
        try:
            self._committer.close()
        finally:
            self.repo.backend.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _str(value: object) -> str | None:
    return str(value) if value else None


def _int(config: Config, key: str) -> int:
    value = config.get(key)
    assert isinstance(value, int)
    return value
