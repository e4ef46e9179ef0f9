"""Pick a tracer: `auto` probes strace once and falls back to the Python hook, saying why."""

from __future__ import annotations

import functools
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from roar.errors import TracerUnavailable
from roar.trace.base import Tracer

__all__ = ["TracerChoice", "TracerName", "choose_tracer", "probe_tracers"]

TracerName = Literal["auto", "strace", "python"]
_PROBE_TIMEOUT_S = 15


@dataclass(frozen=True)
class TracerChoice:
    name: str
    works: bool
    reason: str


@functools.cache
def probe_strace() -> TracerChoice:
    strace = shutil.which("strace")
    if strace is None:
        return TracerChoice("strace", False, "strace is not installed (apt-get install strace)")
    try:
        proc = subprocess.run(
            [strace, "-f", "-qq", "--seccomp-bpf", "-e", "trace=openat", "-o", "/dev/null",
             "--", "true"],
            capture_output=True,
            text=True,
            timeout=_PROBE_TIMEOUT_S,
            check=False,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError) as exc:
        return TracerChoice("strace", False, f"strace did not run: {exc}")
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        detail = lines[0] if lines else f"exit {proc.returncode}"
        if "ptrace" in detail.lower() or "not permitted" in detail.lower():
            detail += " (ptrace is denied: a container without CAP_SYS_PTRACE or Yama scope 3)"
        return TracerChoice("strace", False, detail)
    return TracerChoice("strace", True, f"{strace} works (ptrace and seccomp-bpf allowed)")


def probe_tracers() -> list[TracerChoice]:
    return [
        probe_strace(),
        TracerChoice("python", True, "always available; reduced coverage (see `roar run --help`)"),
    ]


def choose_tracer(requested: TracerName, project_root: Path) -> tuple[Tracer, list[str]]:
    """The tracer to use and notes for the user (why a fallback was taken)."""
    from roar.trace.python_tracer import PythonTracer
    from roar.trace.strace_tracer import StraceTracer

    if requested == "python":
        return PythonTracer(project_root), []
    strace = probe_strace()
    if strace.works:
        return StraceTracer(), []
    if requested == "strace":
        raise TracerUnavailable(strace.reason, tracer="strace")
    note = f"strace cannot trace here ({strace.reason}); falling back to the Python audit hook"
    return PythonTracer(project_root), [note]
