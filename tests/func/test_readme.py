"""The README is a contract: its first commands are the ones CI runs, its code runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from roar.project import init_project

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()


def _code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def _commands(block: str) -> list[str]:
    return [line.split("#")[0].strip() for line in block.splitlines() if line.split("#")[0].strip()]


def test_readme_opens_with_demo_and_test_commands() -> None:
    first = _code_blocks("bash")[0]
    assert _commands(first) == ["make demo", "make test"]
    assert README.index("make demo") < 400, "the two commands must come first"


def test_ci_runs_the_readme_test_command() -> None:
    test_command = _commands(_code_blocks("bash")[0])[1]
    ci = (REPO / ".ci" / "run").read_text()
    assert f"exec {test_command}\n" in ci


def test_makefile_test_target_runs_every_check() -> None:
    dry = subprocess.run(
        ["make", "-n", "test"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    for step in ("ensure-system-deps.sh", "ruff check", "mypy", "lint-imports", "run_pytest.py"):
        assert step in dry, step


@pytest.mark.parametrize("workers", [[], ["-n", "2", "--dist", "worksteal"]], ids=["1", "2"])
def test_test_runner_fails_on_failing_and_on_missing_tests(
    tmp_path: Path, workers: list[str]
) -> None:
    """Also with the workers `make test` asks for: xdist must not turn "no tests" into 0."""
    runner = [
        sys.executable,
        str(REPO / "scripts" / "run_pytest.py"),
        "-p",
        "no:cacheprovider",
        *workers,
    ]
    failing = tmp_path / "failing"
    failing.mkdir()
    (failing / "test_x.py").write_text("def test_fails():\n    assert 1 == 2\n")
    empty = tmp_path / "empty"
    empty.mkdir()
    passing = tmp_path / "passing"
    passing.mkdir()
    (passing / "test_y.py").write_text("def test_passes():\n    assert 1 == 1\n")

    # Only xdist matters here: the other plugins of this venv would cost each worker seconds
    # of start-up, three runs over.
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    plugins = ["-p", "xdist.plugin"] if workers else []

    def code(directory: Path) -> int:
        return subprocess.run(
            [*runner, *plugins, str(directory)],
            cwd=directory,
            capture_output=True,
            check=False,
            env=env,
        ).returncode

    assert code(failing) == 1
    assert code(empty) == 1
    assert code(passing) == 0


def test_python_example_runs(tmp_path: Path) -> None:
    (snippet,) = [block for block in _code_blocks("python") if "Hasher" in block]
    proc = subprocess.run(
        [sys.executable, "-c", snippet], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    digest, size, cached = proc.stdout.split()
    assert len(digest) == 64
    assert (size, cached) == ("8", "False")


def test_task_example_runs(tmp_path: Path) -> None:
    (snippet,) = [block for block in _code_blocks("python") if "@roar.task" in block]
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    init_project(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-c", snippet], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "adding 3 numbers\n60 10 60\n"
    assert proc.stderr.splitlines() == ["task: load, run_id=1", "task: total, run_id=2"]
    assert (tmp_path / ".roar" / "runs" / "2" / "output.log").read_text() == "adding 3 numbers\n"
