"""The machine a job ran on: OS, CPU, memory, GPUs (nvidia-smi, bounded by a timeout)."""

from __future__ import annotations

import os
import platform
import shutil
import socket
import subprocess
from typing import Any

__all__ = ["capture_host", "gpus"]

_NVIDIA_SMI_TIMEOUT_S = 5.0


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_bytes() -> int | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return None


def gpus(timeout: float = _NVIDIA_SMI_TIMEOUT_S) -> list[dict[str, str]]:
    """NVIDIA GPUs via nvidia-smi; [] when it is absent, fails or hangs."""
    tool = shutil.which("nvidia-smi")
    if tool is None:
        return []
    query = "name,memory.total,driver_version,uuid"
    try:
        out = subprocess.run(
            [tool, f"--query-gpu={query}", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    fields = query.split(",")
    return [
        dict(zip(fields, (v.strip() for v in line.split(",")), strict=False))
        for line in out.splitlines()
        if line.strip()
    ]


def _os_name() -> str:
    """'Debian GNU/Linux 12 (bookworm)'; cheaper than platform.platform(), which scans
    the interpreter binary for its libc version."""
    try:
        return platform.freedesktop_os_release().get("PRETTY_NAME", platform.system())
    except OSError:
        return platform.system()


def capture_host() -> dict[str, Any]:
    uname = platform.uname()
    return {
        "hostname": socket.gethostname(),
        "os": _os_name(),
        "kernel": uname.release,
        "machine": uname.machine,
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "memory_bytes": _memory_bytes(),
        "gpus": gpus(),
    }
