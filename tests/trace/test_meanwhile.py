"""roar prepares its recording while the command runs, not before it starts or after it ends."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from roar.trace.base import StepControl
from roar.trace.choose import choose_tracer

if TYPE_CHECKING:
    from roar.trace.choose import TracerName

# Waits up to 5 s for `flag`, which only roar's `meanwhile` creates; exit 0 once it is there.
WAIT_FOR_FLAG = (
    "i=0; while [ ! -e flag ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done;"
    " [ -e flag ] && echo seen > out.txt"
)


@pytest.mark.parametrize("tracer_name", ["seccomp", "strace", "python"])
@pytest.mark.parametrize("controlled", [False, True])
def test_meanwhile_runs_while_the_command_does(
    tmp_path: Path, tracer_name: TracerName, controlled: bool
) -> None:
    tracer, _ = choose_tracer(tracer_name, tmp_path)
    control = StepControl(timeout=30) if controlled else None
    result = tracer.run(
        ["sh", "-c", WAIT_FOR_FLAG],
        cwd=str(tmp_path),
        env={"PATH": "/usr/bin:/bin"},
        control=control,
        meanwhile=(tmp_path / "flag").touch,
    )
    assert result.exit_code == 0
    assert (tmp_path / "out.txt").read_text() == "seen\n"


@pytest.mark.parametrize("tracer_name", ["seccomp", "strace"])
def test_a_failing_meanwhile_costs_the_command_nothing(
    tmp_path: Path, tracer_name: TracerName
) -> None:
    def broken() -> None:
        raise RuntimeError("roar's own preparation failed")

    tracer, _ = choose_tracer(tracer_name, tmp_path)
    result = tracer.run(
        ["sh", "-c", "echo made > made.txt"],
        cwd=str(tmp_path),
        env={"PATH": "/usr/bin:/bin"},
        meanwhile=broken,
    )
    assert result.exit_code == 0
    assert str(tmp_path / "made.txt") in result.log.paths


def test_recording_modules_wait_until_the_command_has_started() -> None:
    """`roar run` imports what only recording needs while the command runs; importing it
    up front would put it back on every run's start-up."""
    recording_only = [
        "roar.run.recording",
        "roar.run.collect",
        "roar.objects",
        "roar.hashing",
        "roar.trace.classify",
        "roar.capture.host",
        "roar.capture.packages",
        "blake3",
    ]
    code = (
        "import sys\n"
        "import roar.cli.fast, roar.cli.run_report, roar.cli.state, roar.run\n"
        "from roar.trace.choose import choose_tracer\n"
        "import roar.trace.seccomp_tracer, roar.trace.strace_tracer\n"
        f"print([m for m in {recording_only!r} if m in sys.modules])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
