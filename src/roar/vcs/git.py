"""The git adapter: every git command roar runs goes through `Git`.

Capture (what commit a job ran at), reproduction (worktrees) and the registry (tags) all
need git, so the adapter sits below all of them. Failures become `GitError` with git's own
first line of stderr.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from roar.errors import RoarError
from roar.vcs.early_git import (
    DIFF_HEAD_ARGS,
    REMOTE_URLS_ARGS,
    STATUS_ARGS,
    TIMEOUT_S,
    find_work_tree,
    git_environment,
    parse_status,
)
from roar.vcs.index import read_tracked_paths

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    import subprocess

__all__ = ["Git", "GitError", "GitUnavailable", "RunningGit"]


class GitError(RoarError):
    template = "git {command} failed in {cwd}: {detail}"


class GitUnavailable(RoarError):
    template = "git is not installed or not on PATH; install git (apt-get install git)"


class RunningGit:
    """One git command under way; `output()` waits for it. A command never read is ended
    by `close()` (a caller that failed before it needed the answer)."""

    def __init__(self, cwd: Path, args: Sequence[str]) -> None:
        self._cwd, self._args = cwd, tuple(args)
        import subprocess  # here: `roar run` starts git without it (early_git)

        env = git_environment(os.environ)
        self._proc: subprocess.Popen[bytes] | None = None
        self._missing: FileNotFoundError | None = None
        try:
            self._proc = subprocess.Popen(
                ["git", *args],
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
            )
        except FileNotFoundError as exc:
            self._missing = exc  # raised when the answer is asked for, as `run` would

    def output(self, *, check: bool = True) -> bytes:
        """git's stdout; GitError when it failed (and `check`) or took over a minute."""
        if self._proc is None:
            raise GitUnavailable() from self._missing
        import subprocess

        try:
            stdout, stderr = self._proc.communicate(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.close()
            raise GitError(
                f"no answer after {TIMEOUT_S} s", command=self._args[0], cwd=self._cwd
            ) from None
        if check and self._proc.returncode != 0:
            detail = stderr.decode("utf-8", "replace").strip().splitlines()
            raise GitError(
                detail[0] if detail else f"exit {self._proc.returncode}",
                command=self._args[0],
                cwd=self._cwd,
            )
        return stdout

    def close(self) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.returncode is None:
            proc.kill()
            proc.wait()  # not the pipes: a child git left behind may hold them open
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


class Git:
    """git commands for the work tree at `root` (use `Git.discover` to find it)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def discover(cls, start: Path) -> Git | None:
        """The work tree holding `start`, or None outside git (or without git installed)."""
        root = find_work_tree(str(start))
        return None if root is None else cls(Path(root))

    def run(self, args: Sequence[str], *, check: bool = True) -> bytes:
        return self.start(args).output(check=check)

    def start(self, args: Sequence[str]) -> RunningGit:
        """`git ARGS` started, to be read later with `.output()`: several git commands can
        run side by side, and next to roar's own work."""
        return RunningGit(self.root, args)

    def start_status(self) -> RunningGit:
        """`status()` started; its output is read with `parse_status`."""
        return self.start(STATUS_ARGS)

    def start_remote_urls(self) -> RunningGit:
        """`remote_urls()` started; its output (`check=False`: exit 1 is "none") is read
        with `parse_remote_urls`."""
        return self.start(REMOTE_URLS_ARGS)

    def text(self, args: Sequence[str]) -> str:
        return self.run(args).decode("utf-8", "surrogateescape").strip()

    def status(self) -> tuple[str | None, str | None, bool]:
        """(HEAD commit or None, branch or None when detached, tracked files changed).

        One `git status` call; untracked files are not looked at (`-uno`), which keeps it
        fast in work trees full of untracked data.
        """
        return self.parse_status(self.start_status().output())

    @staticmethod
    def parse_status(out: bytes) -> tuple[str | None, str | None, bool]:
        """`status()` from the output of `start_status()`."""
        return parse_status(out)

    def remote_urls(self) -> dict[str, str]:
        return self.parse_remote_urls(self.start_remote_urls().output(check=False))

    @staticmethod
    def parse_remote_urls(out: bytes) -> dict[str, str]:
        """`remote_urls()` from the output of `start_remote_urls()`."""
        urls = {}
        for line in out.decode("utf-8", "replace").splitlines():
            key, _, url = line.partition(" ")
            urls[key[len("remote.") : -len(".url")]] = url
        return urls

    def diff_head(self) -> bytes:
        """Tracked changes against HEAD (staged and unstaged), binary-safe, as a patch."""
        return self.run(DIFF_HEAD_ARGS)

    def changed_since(self, commit: str) -> set[str] | None:
        """Work-tree paths (relative to the root) that differ from `commit`; None when the
        commit is not in this repository."""
        try:
            self.run(["cat-file", "-e", f"{commit}^{{commit}}"])
        except GitError:
            return None
        out = self.run(["diff", "--name-only", "-z", "--no-renames", commit])
        return {p.decode("utf-8", "surrogateescape") for p in out.split(b"\0") if p}

    def tracked_files(self) -> set[str]:
        """Absolute paths of every file git tracks in this work tree: read from its index
        where that can be done safely (vcs/index.py), else listed by `git ls-files`."""
        paths = read_tracked_paths(str(self.root), os.environ)
        if paths is None:
            paths = self.run(["ls-files", "-z", "--full-name"]).split(b"\0")
        root = os.fsencode(self.root)
        return {os.fsdecode(os.path.join(root, p)) for p in paths if p}

    def has_commit(self, commit: str) -> bool:
        out = self.run(["rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}"], check=False)
        return out.strip() != b""

    def add_worktree(self, path: Path, commit: str) -> Git:
        """A new detached work tree at `commit`; the user's checkout and HEAD are untouched."""
        self.run(["worktree", "add", "--detach", "--force", str(path), commit])
        return Git(path)

    def remove_worktree(self, path: Path) -> None:
        self.run(["worktree", "remove", "--force", str(path)], check=False)
        self.run(["worktree", "prune"], check=False)

    def apply_patch(self, patch: bytes) -> None:
        """Apply a patch made by `diff_head` to this work tree."""
        import tempfile

        with tempfile.NamedTemporaryFile(suffix=".patch") as handle:
            handle.write(patch)
            handle.flush()
            self.run(["apply", "--binary", "--whitespace=nowarn", handle.name])
