"""A project to trace in, and a helper that runs a command under roar and summarises it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from roar.project import Project, init_project
from roar.run import RunOutcome, RunRequest, run_job
from tests.helpers import run_roar

if TYPE_CHECKING:
    from roar.trace.choose import TracerName

PY = sys.executable


@dataclass
class Traced:
    outcome: RunOutcome

    @property
    def inputs(self) -> set[str]:
        return {ref.path for ref in self.outcome.inputs}

    @property
    def data_inputs(self) -> set[str]:
        """Inputs other than the step script the test wrote."""
        return self.inputs - {"step.py"}

    @property
    def outputs(self) -> set[str]:
        return {ref.path for ref in self.outcome.outputs}

    def hash_of(self, path: str) -> str:
        refs = [*self.outcome.inputs, *self.outcome.outputs]
        return next(ref.artifact.hash for ref in refs if ref.path == path)


class Workspace:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.project: Project = init_project(root).project
        self.tracer: TracerName = "strace"

    def write(self, name: str, content: str | bytes = "data\n") -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content)
        else:
            path.write_bytes(content)
        return path

    def script(self, name: str, body: str) -> Path:
        return self.write(name, textwrap.dedent(body))

    def trace(
        self,
        argv: Sequence[str],
        *,
        tracer: TracerName | None = None,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> Traced:
        config = self.project.config()
        outcome = run_job(
            self.project,
            config,
            RunRequest(tuple(argv), tracer=tracer or self.tracer),
            cwd=cwd or self.root,
            environ={**os.environ, **(env or {})},
        )
        return Traced(outcome)

    def python(self, body: str, **kwargs: object) -> Traced:
        self.script("step.py", body)
        return self.trace([PY, "step.py"], **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def ws(git_repo: Path) -> Workspace:
    if shutil.which("strace") is None:
        pytest.fail("strace is not installed; `make test` installs it")
    return Workspace(git_repo)


def compile_c(ws: Workspace, name: str, source: str, *, static: bool = False) -> Path:
    src = ws.write(f"{name}.c", textwrap.dedent(source))
    binary = ws.root / name
    flags = ["-static"] if static else []
    subprocess.run(["gcc", *flags, "-O1", "-o", str(binary), str(src)], check=True)
    return binary


def roar_ok(ws: Workspace, *args: str) -> str:
    result = run_roar(*args, cwd=ws.root)
    assert result.code == 0, result.stderr
    return result.stdout


@pytest.fixture
def pipeline(ws: Workspace) -> Workspace:
    ws.write("raw.txt", "3\n1\n2\n")
    steps = [
        ("prep", "sort raw.txt > clean.txt"),
        ("feat_a", "head -n 2 clean.txt > a.txt"),
        ("feat_b", "tail -n 2 clean.txt > b.txt"),
        ("broken", "cat clean.txt > /dev/null; exit 4"),
        ("train", "cat a.txt b.txt > model.bin"),
        ("feat_a", "head -n 1 clean.txt > a.txt"),  # a re-run after train
    ]
    for name, script in steps:
        run_roar("run", "-q", "-n", name, "sh", "-c", script, cwd=ws.root)
    return ws
