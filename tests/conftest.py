"""Fixtures shared by every test: an isolated HOME, git identity, and ways to call roar."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers import git


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Each test gets its own HOME and git config; the developer's own never leak in."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    for name in list(os.environ):
        if name.startswith(("ROAR_", "GIT_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Roar Tester\n\temail = tester@roar.invalid\n"
        "[init]\n\tdefaultBranch = main\n"
    )
    return home


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    git("init", "-q", cwd=repo)
    (repo / "train.py").write_text("print('train')\n")
    git("add", "train.py", cwd=repo)
    git("commit", "-qm", "initial", cwd=repo)
    return repo


@pytest.fixture
def project(git_repo: Path) -> Path:
    """An initialised roar project inside a git repository."""
    from roar.project import init_project

    init_project(git_repo)
    return git_repo
