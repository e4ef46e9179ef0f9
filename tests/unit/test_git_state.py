"""The git state of a job, read with real git: what it says, and how its commands run."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from roar.capture.git_state import capture_git_state, start_git_capture
from roar.vcs import git as git_adapter
from roar.vcs.git import GitError, GitUnavailable
from tests.helpers import git


def _slow_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, delay_s: float) -> Path:
    """Put a `git` first on PATH that logs when each call starts and ends, waiting
    `delay_s` in between, then runs the real git; the log's path."""
    real = shutil.which("git")
    assert real is not None
    folder = tmp_path / "slow-bin"
    folder.mkdir()
    log = tmp_path / "git-calls.log"
    script = folder / "git"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "start $1" >> {log}\n'
        f"sleep {delay_s}\n"
        f'echo "end $1" >> {log}\n'
        f'exec {real} "$@"\n'
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}:{Path(real).parent}")
    return log


def test_commit_branch_origin_and_the_patch_of_a_dirty_tree(git_repo: Path) -> None:
    git("remote", "add", "backup", "https://example.invalid/backup.git", cwd=git_repo)
    git("remote", "add", "origin", "https://example.invalid/origin.git", cwd=git_repo)
    clean = capture_git_state(git_repo)
    assert clean is not None
    head = git("rev-parse", "HEAD", cwd=git_repo).strip()
    assert (clean.commit, clean.branch, clean.dirty, clean.patch) == (head, "main", False, b"")
    assert clean.remote == "https://example.invalid/origin.git"  # origin before the others
    (git_repo / "train.py").write_text("print('changed')\n")
    dirty = capture_git_state(git_repo / "train.py")  # from anywhere in the work tree
    assert dirty is not None
    assert dirty.dirty is True
    assert b"+print('changed')" in dirty.patch


def test_detached_head_and_a_repository_without_commits(git_repo: Path, tmp_path: Path) -> None:
    git("checkout", "-q", "--detach", cwd=git_repo)
    detached = capture_git_state(git_repo)
    assert detached is not None
    assert detached.branch is None
    assert detached.remote is None
    empty = tmp_path / "empty"
    empty.mkdir()
    git("init", "-q", cwd=empty)
    (empty / "staged.txt").write_text("x\n")
    git("add", "staged.txt", cwd=empty)
    state = capture_git_state(empty)
    assert state is not None
    assert (state.commit, state.dirty, state.patch) == (None, True, b"")
    assert capture_git_state(tmp_path) is None  # outside any work tree


def test_status_and_remotes_run_side_by_side(
    git_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = _slow_git(tmp_path, monkeypatch, delay_s=0.5)
    pending = start_git_capture(git_repo)
    state = pending.result()
    assert state is not None
    assert state.branch == "main"
    calls = log.read_text().splitlines()
    first_end = next(i for i, line in enumerate(calls) if line.startswith("end"))
    assert sorted(calls[:first_end]) == ["start config", "start status"]


def test_a_capture_never_read_leaves_no_git_running(
    git_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _slow_git(tmp_path, monkeypatch, delay_s=30)
    pending = start_git_capture(git_repo)
    running = list(pending._running)
    started = time.monotonic()
    pending.close()
    assert time.monotonic() - started < 10
    assert all(r._proc is not None and r._proc.poll() is not None for r in running)


def test_git_that_never_answers_is_an_error_not_a_hang(
    git_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _slow_git(tmp_path, monkeypatch, delay_s=30)
    monkeypatch.setattr(git_adapter, "TIMEOUT_S", 0.5)
    with pytest.raises(GitError, match=r"git status failed in .*: no answer after 0.5 s"):
        capture_git_state(git_repo)


def test_a_work_tree_without_git_installed_says_how_to_fix_it(
    git_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty_bin = tmp_path / "no-git"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))
    pending = start_git_capture(git_repo)
    with pytest.raises(GitUnavailable, match="install git"):
        pending.result()
    pending.close()  # harmless after a failure


def test_run_job_uses_a_capture_started_early_only_for_its_own_work_tree(
    git_repo: Path, tmp_path: Path
) -> None:
    """The CLI starts `git status` from where it was called, before it knows the project;
    a nested repository there must not lend its commit to the project's job."""
    from roar.project import init_project
    from roar.run import RunRequest, run_job

    project = init_project(git_repo).project
    nested = git_repo / "vendor" / "lib"
    nested.mkdir(parents=True)
    git("init", "-q", cwd=nested)
    (nested / "lib.py").write_text("x = 1\n")
    git("add", "lib.py", cwd=nested)
    git("commit", "-qm", "nested", cwd=nested)
    outer_head = git("rev-parse", "HEAD", cwd=git_repo).strip()
    assert git("rev-parse", "HEAD", cwd=nested).strip() != outer_head

    for started_in in (nested, git_repo / "vendor", tmp_path):
        pending = start_git_capture(started_in)
        outcome = run_job(project, project.config(), RunRequest(("true",)), pending_git=pending)
        assert outcome.job.git_commit == outer_head, started_in
        assert all(r._proc is None or r._proc.poll() is not None for r in pending._running)
