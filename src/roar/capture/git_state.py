"""The git state of a job: commit, branch, remote, and a patch of uncommitted changes."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from roar.vcs.git import Git

__all__ = ["GitState", "capture_git_state"]


class GitState(NamedTuple):
    root: Path
    commit: str | None
    branch: str | None
    remote: str | None
    dirty: bool
    patch: bytes  # `git diff HEAD --binary`; empty when clean


def capture_git_state(start: Path) -> GitState | None:
    """None outside a git work tree."""
    git = Git.discover(start)
    if git is None:
        return None
    commit, branch, dirty = git.status()
    patch = git.diff_head() if dirty and commit is not None else b""
    remotes = git.remote_urls()
    remote = remotes.get("origin") or next(iter(sorted(remotes.items())), ("", None))[1]
    return GitState(git.root, commit, branch, remote, dirty, patch)
