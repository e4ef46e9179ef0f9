"""The git state of a job: commit, branch, remote, and a patch of uncommitted changes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from roar.vcs.git import Git

__all__ = ["GitState", "capture_git_state"]


@dataclass(frozen=True)
class GitState:
    root: Path
    commit: str | None
    branch: str | None
    remote: str | None
    dirty: bool
    patch: bytes  # `git diff HEAD --binary`; empty when clean
    untracked: tuple[str, ...]  # not in the patch: reproduction cannot restore them


def _untracked(status: bytes) -> tuple[str, ...]:
    entries = [e for e in status.split(b"\0") if e]
    return tuple(e[3:].decode("utf-8", "surrogateescape") for e in entries if e[:2] == b"??")


def capture_git_state(start: Path) -> GitState | None:
    """None outside a git work tree."""
    git = Git.discover(start)
    if git is None:
        return None
    commit = git.head_commit()
    status = git.status_porcelain()
    patch = git.diff_head() if commit is not None else b""
    return GitState(
        root=git.root,
        commit=commit,
        branch=git.branch(),
        remote=git.remote_url(),
        dirty=bool(status),
        patch=patch,
        untracked=_untracked(status),
    )
