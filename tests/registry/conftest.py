"""Real git repositories for the registry tests, and GTO from PyPI in its own venv."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import git

REPO_ROOT = Path(__file__).resolve().parents[2]
#: GTO and its dependencies live apart from roar's, installed once and reused.
GTO_VENV = REPO_ROOT / ".venv-gto"
GTO_REQUIREMENT = "gto>=1.7,<2"


def commit(repo: Path, name: str = "f", content: str | None = None) -> str:
    """Write `name` and commit it; the new commit's sha."""
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content if content is not None else f"{name} {os.urandom(4).hex()}\n")
    git("add", name, cwd=repo)
    git("commit", "-qm", f"change {name}", cwd=repo)
    return git("rev-parse", "HEAD", cwd=repo).strip()


def tags(repo: Path) -> list[str]:
    return git("tag", "--list", cwd=repo).split()


@pytest.fixture
def repo(git_repo: Path) -> Path:
    """A git repository with one commit (train.py), like a user's project."""
    return git_repo


def _ensure_gto() -> tuple[Path | None, str]:
    gto = GTO_VENV / "bin" / "gto"
    stamp = GTO_VENV / ".roar-requirement"
    if gto.exists() and stamp.is_file() and stamp.read_text() == GTO_REQUIREMENT:
        return gto, ""
    shutil.rmtree(GTO_VENV, ignore_errors=True)
    python = str(GTO_VENV / "bin" / "python")
    steps = [
        [sys.executable, "-m", "venv", str(GTO_VENV)],
        [python, "-m", "pip", "install", "--quiet", "--no-compile", GTO_REQUIREMENT],
    ]
    for argv in steps:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            return None, f"cannot install {GTO_REQUIREMENT} into {GTO_VENV}: {tail[0]}"
    # Bytecode on every core (pip compiles one file at a time); every `gto` call below
    # would otherwise compile its imports again when PYTHONDONTWRITEBYTECODE is set.
    # A file that does not compile only goes without a cache, as with pip.
    subprocess.run(
        [python, "-m", "compileall", "-qq", "-j", "0", str(GTO_VENV / "lib")],
        capture_output=True,
        timeout=600,
        check=False,
    )
    stamp.write_text(GTO_REQUIREMENT)
    return gto, ""


@pytest.fixture(scope="session")
def gto_bin() -> Path:
    """The `gto` executable (installed from PyPI on first use); skips without network."""
    gto, why = _ensure_gto()
    if gto is None:
        pytest.skip(why)
    return gto
