"""The git state of a job: commit, branch, remote, and a patch of uncommitted changes."""

from __future__ import annotations

from pathlib import Path

from roar.named_tuple import NamedTuple
from roar.vcs.early_git import TIMEOUT_S, EarlyGit, GitAnswer
from roar.vcs.git import Git, GitError, RunningGit

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
    waits for them; `close()` ends what was never asked for. `early`: the same git calls
    started already with the command (vcs/early_git.py), whose answers are taken over."""

    def __init__(self, start: Path, early: EarlyGit | None = None) -> None:
        self._early = early
        self._running: list[RunningGit] = []
        if early is not None:
            self._git: Git | None = Git(Path(early.root))
            return
        self._git = Git.discover(start)
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
        if self._early is not None:
            try:
                answers = self._early.answers(_TIMEOUT_S)
            except TimeoutError as exc:
                raise GitError(str(exc), command="status", cwd=git.root) from None
            self._early = None
            if answers is not None:
                return _state_from(git, answers)
            self._running = [git.start_status(), git.start_remote_urls()]  # once more, here
        try:
            status, remote_config = self._running
            commit, branch, dirty = Git.parse_status(status.output())
            remotes = Git.parse_remote_urls(remote_config.output(check=False))
        finally:
            self.close()
        patch = git.diff_head() if dirty and commit is not None else b""
        return GitState(git.root, commit, branch, _remote(remotes), dirty, patch)

    def close(self) -> None:
        if self._early is not None:
            self._early.close()
        for running in self._running:
            running.close()


#: As RunningGit's own limit.
_TIMEOUT_S = TIMEOUT_S


def _remote(remotes: dict[str, str]) -> str | None:
    """origin's URL, else the first remote's by name."""
    return remotes.get("origin") or next(iter(sorted(remotes.items())), ("", None))[1]


def _state_from(git: Git, answers: dict[str, GitAnswer]) -> GitState:
    """The git state from the answers of an early read, judged as RunningGit judges its
    own (the first line of git's stderr on failure)."""

    def checked(name: str, command: str) -> bytes:
        answer = answers[name]
        if answer.returncode != 0:
            detail = answer.stderr.decode("utf-8", "replace").strip().splitlines()
            raise GitError(
                detail[0] if detail else f"exit {answer.returncode}", command=command, cwd=git.root
            )
        return answer.stdout

    commit, branch, dirty = Git.parse_status(checked("status", "status"))
    remotes = Git.parse_remote_urls(answers["remotes"].stdout)
    patch = checked("diff", "diff") if dirty and commit is not None else b""
    return GitState(git.root, commit, branch, _remote(remotes), dirty, patch)


def start_git_capture(start: Path, early: EarlyGit | None = None) -> PendingGitState:
    """Start reading the git state of the work tree holding `start`, or take over `early`
    (see PendingGitState)."""
    return PendingGitState(start, early)
