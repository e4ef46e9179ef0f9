"""The git state of a job: commit, branch, remote, and a patch of uncommitted changes."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from roar.vcs.git import Git, RunningGit

__all__ = ["GitState", "PendingGitState", "capture_git_state", "start_git_capture"]


class GitState(NamedTuple):
    root: Path
    commit: str | None
    branch: str | None
    remote: str | None
    dirty: bool
    patch: bytes  # `git diff HEAD --binary`; empty when clean


def capture_git_state(start: Path) -> GitState | None:
    """None outside a git work tree."""
    return start_git_capture(start).result()


class PendingGitState:
    """The git state being read: `git status` and the remotes side by side, while the
    caller gets on with its own work (a `roar run` opens its store meanwhile). `result()`
    waits for them; `close()` ends what was never asked for."""

    def __init__(self, start: Path) -> None:
        self._git = Git.discover(start)
        self._running: list[RunningGit] = []
        if self._git is not None:
            self._running = [self._git.start_status(), self._git.start_remote_urls()]

    @property
    def root(self) -> Path | None:
        """The work tree being read (None outside git)."""
        return None if self._git is None else self._git.root

    def result(self) -> GitState | None:
        """None outside a git work tree; GitError or GitUnavailable as `Git` raises them."""
        git = self._git
        if git is None:
            return None
        try:
            status, remote_config = self._running
            commit, branch, dirty = Git.parse_status(status.output())
            remotes = Git.parse_remote_urls(remote_config.output(check=False))
        finally:
            self.close()
        patch = git.diff_head() if dirty and commit is not None else b""
        remote = remotes.get("origin") or next(iter(sorted(remotes.items())), ("", None))[1]
        return GitState(git.root, commit, branch, remote, dirty, patch)

    def close(self) -> None:
        for running in self._running:
            running.close()


def start_git_capture(start: Path) -> PendingGitState:
    """Start reading the git state of the work tree holding `start` (see PendingGitState)."""
    return PendingGitState(start)
