"""The git state read from roar's first milliseconds (vcs/early_git.py): the same answers
as roar's own git calls, `on_read` only once git answered, and no hang or stray git."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from roar.capture.git_state import PendingGitState
from roar.vcs.early_git import EarlyGit
from roar.vcs.git import GitError
from tests.helpers import git


def _clean(repo: Path) -> None:
    pass


def _dirty(repo: Path) -> None:
    (repo / "train.py").write_text("print('changed')\n")
    git("remote", "add", "origin", "https://example.invalid/origin.git", cwd=repo)


def _deleted(repo: Path) -> None:
    (repo / "train.py").unlink()


def _detached(repo: Path) -> None:
    git("checkout", "-q", "--detach", cwd=repo)


def _no_commits(repo: Path) -> None:
    import shutil

    shutil.rmtree(repo / ".git")
    git("init", "-q", cwd=repo)
    git("add", "train.py", cwd=repo)


def _big_patch(repo: Path) -> None:
    # more than a pipe holds, on stdout and (with CRLF warnings) on stderr
    (repo / "big.txt").write_text("line\n" * 50_000)
    git("add", "big.txt", cwd=repo)
    git("commit", "-qm", "big", cwd=repo)
    (repo / "big.txt").write_text("other line\n" * 50_000)


STATES: dict[str, Callable[[Path], None]] = {
    "clean": _clean,
    "dirty with origin": _dirty,
    "a tracked file deleted": _deleted,
    "detached": _detached,
    "no commits": _no_commits,
    "a patch bigger than a pipe": _big_patch,
}


def _start(start: Path) -> tuple[EarlyGit | None, list[float]]:
    told: list[float] = []
    early = EarlyGit.start(str(start), dict(os.environ), lambda: told.append(time.monotonic()))
    return early, told


@pytest.mark.parametrize("state", sorted(STATES))
def test_the_early_read_says_what_roar_s_own_git_calls_say(git_repo: Path, state: str) -> None:
    STATES[state](git_repo)
    (git_repo / "sub").mkdir(exist_ok=True)
    expected = PendingGitState(git_repo / "sub").result()
    early, told = _start(git_repo / "sub")
    assert early is not None
    assert early.root == str(git_repo)
    got = PendingGitState(git_repo / "sub", early).result()
    assert got == expected
    assert len(told) == 1  # once, after git answered


def test_outside_git_there_is_nothing_to_read(tmp_path: Path) -> None:
    early, told = _start(tmp_path)
    assert early is None
    assert told == []


def test_a_broken_repository_is_the_usual_error_and_no_creation_is_let_through(
    git_repo: Path,
) -> None:
    (git_repo / ".git" / "HEAD").write_text("garbage\n")
    with pytest.raises(GitError) as usual:
        PendingGitState(git_repo).result()
    early, told = _start(git_repo)
    assert early is not None
    with pytest.raises(GitError) as adopted:
        PendingGitState(git_repo, early).result()
    assert str(adopted.value) == str(usual.value)
    assert told == []


def _hanging_git(tmp_path: Path) -> dict[str, str]:
    """An environment whose `git` never answers; its pid is written to tmp_path/pid."""
    folder = tmp_path / "bin"
    folder.mkdir()
    script = folder / "git"
    script.write_text(f"#!/bin/sh\necho $$ >> {tmp_path / 'pids'}\nexec sleep 60\n")
    script.chmod(0o755)
    return {**os.environ, "PATH": f"{folder}:{os.environ['PATH']}"}


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_a_git_that_never_answers_is_ended_and_none_is_returned(
    git_repo: Path, tmp_path: Path
) -> None:
    told: list[int] = []
    early = EarlyGit.start(str(git_repo), _hanging_git(tmp_path), lambda: told.append(1))
    assert early is not None
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="no answer after 0.5 s"):
        early.answers(timeout_s=0.5)
    assert time.monotonic() - started < 5
    pids = [int(p) for p in (tmp_path / "pids").read_text().split()]
    assert pids
    time.sleep(0.2)
    assert not any(_alive(pid) for pid in pids)
    assert told == []


def test_a_run_waits_for_an_early_git_no_longer_than_for_its_own(
    git_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import roar.capture.git_state as git_state

    monkeypatch.setattr(git_state, "_TIMEOUT_S", 0.5)
    early = EarlyGit.start(str(git_repo), _hanging_git(tmp_path), lambda: None)
    with pytest.raises(GitError, match=r"git status failed in .*: no answer after 0.5 s"):
        PendingGitState(git_repo, early).result()


def test_close_ends_the_git_still_running(git_repo: Path, tmp_path: Path) -> None:
    early = EarlyGit.start(str(git_repo), _hanging_git(tmp_path), lambda: None)
    assert early is not None
    deadline = time.monotonic() + 5
    while not (tmp_path / "pids").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    early.close()
    answers = early.answers(timeout_s=5)
    assert answers is not None  # what git said: nothing, ended by a signal
    assert answers["status"].returncode == -9
    pids = [int(p) for p in (tmp_path / "pids").read_text().split()]
    assert not any(_alive(pid) for pid in pids)
