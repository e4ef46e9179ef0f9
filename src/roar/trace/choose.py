"""Pick a tracer: `auto` probes strace once and falls back to the Python hook, saying why."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from roar.errors import TracerUnavailable
from roar.fsutil import atomic_write_bytes
from roar.trace.base import Tracer

__all__ = ["TracerChoice", "TracerName", "choose_tracer", "probe_tracers"]

TracerName = Literal["auto", "strace", "python"]
_PROBE_TIMEOUT_S = 15


@dataclass(frozen=True)
class TracerChoice:
    name: str
    works: bool
    reason: str


def _probe_key(strace: str) -> str:
    """What the probe's answer depends on: the binary, the kernel, the user, the host."""
    st = os.stat(strace)
    uname = os.uname()
    parts = (os.path.realpath(strace), st.st_mtime_ns, uname.release, os.geteuid(), uname.nodename)
    return ":".join(map(str, parts))


def probe_strace(cache_file: Path | None = None) -> TracerChoice:
    """Does strace work here? With `cache_file`, the answer is remembered per machine."""
    strace = shutil.which("strace")
    if strace is None:
        return TracerChoice("strace", False, "strace is not installed (apt-get install strace)")
    key = _probe_key(strace)
    if cache_file is not None:
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            cached = json.loads(cache_file.read_text())
            if cached["key"] == key:
                return TracerChoice("strace", bool(cached["works"]), str(cached["reason"]))
    choice = _run_probe(strace)
    if cache_file is not None:
        with contextlib.suppress(OSError):
            payload = {"key": key, "works": choice.works, "reason": choice.reason}
            atomic_write_bytes(cache_file, json.dumps(payload).encode())
    return choice


@functools.cache
def _run_probe(strace: str) -> TracerChoice:
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


def choose_tracer(
    requested: TracerName, project_root: Path, probe_cache: Path | None = None
) -> tuple[Tracer, list[str]]:
    """The tracer to use and notes for the user (why a fallback was taken)."""
    from roar.trace.python_tracer import PythonTracer
    from roar.trace.strace_tracer import StraceTracer

    if requested == "python":
        return PythonTracer(project_root), []
    strace = probe_strace(probe_cache)
    if strace.works:
        return StraceTracer(), []
    if requested == "strace":
        raise TracerUnavailable(strace.reason, tracer="strace")
    note = f"strace cannot trace here ({strace.reason}); falling back to the Python audit hook"
    return PythonTracer(project_root), [note]
