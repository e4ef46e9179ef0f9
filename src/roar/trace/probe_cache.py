"""Which tracers worked here when last probed: the answers `roar run` keeps in
`.roar/tracer-probe.json`, and the key that says whether they still hold.

Read before every `roar run` starts its command (run/launch.py), so it imports nothing
beyond the standard library's json.
"""

from __future__ import annotations

import contextlib
import json
import os

from roar.fsutil import find_program

__all__ = ["PROBE_FILE", "cached_probes", "probe_key"]

#: The file in `.roar/` that keeps the answers.
PROBE_FILE = "tracer-probe.json"


def probe_key() -> str:
    """What the probes' answers depend on: the kernel, the user, the host, the strace binary."""
    uname = os.uname()
    parts: list[object] = [uname.release, os.geteuid(), uname.nodename]
    strace = find_program("strace")
    if strace is not None:
        parts += [os.path.realpath(strace), os.stat(strace).st_mtime_ns]
    return ":".join(map(str, parts))


def cached_probes(cache_file: str | os.PathLike[str], key: str) -> dict[str, tuple[bool, str]]:
    """Tracer name -> (works, why) as remembered under `key`; empty when the file is
    missing, unreadable, malformed or written under another key."""
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError, AttributeError):
        with open(cache_file, "rb") as handle:
            cached = json.loads(handle.read())
        if cached["key"] == key:
            return {
                str(name): (bool(entry["works"]), str(entry["reason"]))
                for name, entry in cached["tracers"].items()
            }
    return {}
