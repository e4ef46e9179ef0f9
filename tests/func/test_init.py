"""`roar init` through the CLI: create, repeat, nest, git and no git."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import git, run_roar


def test_init_creates_the_project_layout(git_repo: Path) -> None:
    result = run_roar("init", cwd=git_repo)
    assert result.code == 0, result.stderr
    roar_dir = git_repo / ".roar"
    for name in ("roar.db", "config.toml", "objects", "runs", ".gitignore"):
        assert (roar_dir / name).exists(), name
    with sqlite3.connect(roar_dir / "roar.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        kinds = dict(db.execute("SELECT name, type FROM sqlite_master").fetchall())
    for table in ("jobs", "artifacts", "input_groups", "job_input_groups", "job_outputs"):
        assert kinds.get(table) == "table", table
    assert kinds.get("job_inputs") == "view"


def test_init_keeps_the_git_tree_clean(git_repo: Path) -> None:
    assert run_roar("init", cwd=git_repo).code == 0
    assert git("status", "--porcelain", "--ignored=no", cwd=git_repo) == ""


def test_init_is_idempotent_and_keeps_settings(git_repo: Path) -> None:
    assert run_roar("init", cwd=git_repo).code == 0
    assert run_roar("config", "set", "output.quiet", "true", cwd=git_repo).code == 0
    again = run_roar("init", cwd=git_repo)
    assert again.code == 0
    assert "already initialized" in again.stdout
    assert run_roar("config", "get", "output.quiet", cwd=git_repo).stdout.strip() == "true"


def test_init_repairs_a_missing_folder(git_repo: Path) -> None:
    assert run_roar("init", cwd=git_repo).code == 0
    (git_repo / ".roar" / "objects").rmdir()
    assert run_roar("init", cwd=git_repo).code == 0
    assert (git_repo / ".roar" / "objects").is_dir()


def test_init_outside_git_says_what_it_cannot_record(tmp_path: Path) -> None:
    result = run_roar("init", cwd=tmp_path)
    assert result.code == 0
    assert "not inside a git repository" in result.stderr
    assert "commit" in result.stderr
    assert (tmp_path / ".roar" / "roar.db").exists()


def test_init_below_a_project_does_not_nest_silently(git_repo: Path) -> None:
    assert run_roar("init", cwd=git_repo).code == 0
    sub = git_repo / "src" / "deep"
    sub.mkdir(parents=True)
    result = run_roar("init", cwd=sub)
    assert result.code == 0
    assert f"already inside the roar project at {git_repo}" in result.stdout
    assert not (sub / ".roar").exists()


def test_init_nested_on_request(git_repo: Path) -> None:
    assert run_roar("init", cwd=git_repo).code == 0
    sub = git_repo / "sub"
    sub.mkdir()
    assert run_roar("init", "--nested", cwd=sub).code == 0
    assert (sub / ".roar" / "roar.db").exists()


def test_gitignore_option_adds_the_entry_once(git_repo: Path) -> None:
    assert run_roar("init", "--gitignore", cwd=git_repo).code == 0
    assert run_roar("init", "--gitignore", cwd=git_repo).code == 0
    lines = (git_repo / ".gitignore").read_text().splitlines()
    assert lines.count("/.roar/") == 1


def test_commands_find_the_project_from_a_subdirectory(git_repo: Path) -> None:
    assert run_roar("init", cwd=git_repo).code == 0
    sub = git_repo / "a" / "b"
    sub.mkdir(parents=True)
    assert run_roar("config", "set", "output.quiet", "true", cwd=sub).code == 0
    assert "quiet = true" in (git_repo / ".roar" / "config.toml").read_text()


def test_roar_path_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / ".roar").write_text("not a folder")
    result = run_roar("init", cwd=tmp_path)
    assert result.code == 3
    assert "exists and is not a directory" in result.stderr
    assert (tmp_path / ".roar").read_text() == "not a folder"


@contextlib.contextmanager
def unwritable_directory(path: Path) -> Iterator[None]:
    """A directory nobody may add entries to, root included (root ignores mode bits)."""
    path.mkdir()
    if os.geteuid() != 0:
        path.chmod(0o555)
        try:
            yield
        finally:
            path.chmod(0o755)
        return
    if shutil.which("chattr") is None:
        pytest.skip("running as root without chattr: cannot make a directory unwritable")
    made = subprocess.run(["chattr", "+i", str(path)], capture_output=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"this filesystem has no immutable flag: {made.stderr.decode().strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_unwritable_directory_is_one_clear_line(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    with unwritable_directory(locked):
        result = run_roar("init", cwd=locked)
    assert result.code == 3, result.stderr
    assert "cannot create" in result.stderr
    assert "Traceback" not in result.stderr
