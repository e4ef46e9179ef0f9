"""A roar project in a git repository, entered as the working directory, and a way to
run Python in a new process there (the "any later process" of the task API)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from roar.project import init_project


@pytest.fixture
def proj(git_repo: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    init_project(git_repo)
    monkeypatch.chdir(git_repo)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    return git_repo


def run_python(code: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run `code` in a fresh interpreter in `cwd`; its stdout (fails on a non-zero exit)."""
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "MPLBACKEND": "Agg", **(env or {})},
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout
