"""The machine a job ran on: OS, CPU, memory, GPUs (nvidia-smi, bounded by a timeout).

Read from uname, /proc and /etc/os-release directly: `platform` and `socket` cost more to
import than this whole capture takes, and every `roar run` pays for it.
"""

from __future__ import annotations

import os
import re

from roar.fsutil import find_program

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
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
    return os.uname().machine


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
    tool = find_program("nvidia-smi")
    if tool is None:
        return []
    import subprocess  # here: most machines have no nvidia-smi, and every `roar run` is faster

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


_OS_RELEASE_FILES = ("/etc/os-release", "/usr/lib/os-release")


def _os_name(files: tuple[str, ...] = _OS_RELEASE_FILES) -> str:
    """PRETTY_NAME from os-release ('Debian GNU/Linux 12 (bookworm)'), else the kernel's
    name ('Linux')."""
    for name in files:
        try:
            with open(name, encoding="utf-8", errors="replace") as handle:
                for line in handle:
                    key, sep, value = line.strip().partition("=")
                    if sep and key == "PRETTY_NAME":
                        return _unquote_os_release(value) or os.uname().sysname
            break  # the first file that exists is the one that counts
        except OSError:
            continue
    return os.uname().sysname


def _unquote_os_release(value: str) -> str:
    """os-release values are shell-quoted: 'x', "x" (with backslash escapes) or bare."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        inner = value[1:-1]
        return re.sub(r'\\([\\"$`])', r"\1", inner) if value[0] == '"' else inner
    return value


def capture_host() -> dict[str, Any]:
    uname = os.uname()
    return {
        "hostname": uname.nodename,  # what gethostname() returns on Linux
        "os": _os_name(),
        "kernel": uname.release,
        "machine": uname.machine,
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "memory_bytes": _memory_bytes(),
        "gpus": gpus(),
    }
