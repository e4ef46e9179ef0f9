"""What every benchmark script shares: where to put scratch files, how to print the table."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence

__all__ = ["SPIN_PY", "finish", "format_table", "scratch_parent"]


#: Workload source: `spin(n)`, pure-Python CPU work that makes no syscalls, and with the
#: argument `calibrate` a print of loops per second. Needs `sys` and `time` imported.
SPIN_PY = """\
def spin(n):
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


if sys.argv[1] == "calibrate":  # loops per second, best of 5: a VM's CPU speed wanders
    n, best = 1_000_000, float("inf")
    for _ in range(5):
        start = time.perf_counter()
        spin(n)
        best = min(best, time.perf_counter() - start)
    print(n / best)
    sys.exit()
"""


def _is_tmpfs(path: str) -> bool:
    """True when `path` is on a tmpfs (RAM) mount, which would flatter every disk number."""
    try:
        with open("/proc/mounts", encoding="utf-8") as mounts:
            entries = [line.split()[:3] for line in mounts]
    except OSError:
        return False
    real = os.path.realpath(path)
    best, fstype = "", ""
    for _dev, mount_point, kind in entries:
        inside = real == mount_point or real.startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) > len(best):
            best, fstype = mount_point, kind
    return fstype == "tmpfs"


def scratch_parent() -> str:
    """The temp dir, or /var/tmp when that is a tmpfs, so files land on a real disk."""
    default = tempfile.gettempdir()
    return "/var/tmp" if _is_tmpfs(default) else default


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns joined by ` | ` with a dashed rule under the header."""
    cells = [tuple(header), *(tuple(row) for row in rows)]
    widths = [max(len(row[col]) for row in cells) for col in range(len(header))]
    lines = [
        " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in cells
    ]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def finish(failed: Sequence[str]) -> int:
    """Print the closing verdict; exit status 1 when any target was missed, else 0."""
    if failed:
        print(f"\nFAILED ({len(failed)}): " + "; ".join(failed))
        return 1
    print("\nall targets met")
    return 0
