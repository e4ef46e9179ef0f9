"""Helpers for calling roar and git the way a user does (real processes)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROAR = str(Path(sys.executable).with_name("roar"))
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


def run_roar(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Result:
    """The real console script in a subprocess, as a user would call it."""
    proc = subprocess.run(
        [ROAR, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
        check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout
