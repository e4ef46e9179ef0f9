"""Which tracers worked here when last probed: the answers `roar run` keeps in
`.roar/tracer-probe`, and the key that says whether they still hold.

Read before every `roar run` starts its command (run/launch.py), so it imports only os:
the file is lines of tab-separated fields rather than JSON, whose parser (with re and
enum behind it) would cost that start 5-7 ms.

    roar-tracer-probe 1
    key<TAB>KEY
    NAME<TAB>1 or 0<TAB>REASON
"""

from __future__ import annotations

import os

from roar.which import find_program

__all__ = ["PROBE_FILE", "cached_probes", "format_probes", "probe_key"]

#: The file in `.roar/` that keeps the answers.
PROBE_FILE = "tracer-probe"
_HEADER = "roar-tracer-probe 1"


def probe_key() -> str:
    """What the probes' answers depend on: the kernel, the user, the host, the strace binary."""
    uname = os.uname()
    parts: list[object] = [uname.release, os.geteuid(), uname.nodename]
    strace = find_program("strace")
    if strace is not None:
        parts += [os.path.realpath(strace), os.stat(strace).st_mtime_ns]
    return ":".join(map(str, parts))


def format_probes(key: str, answers: dict[str, tuple[bool, str]]) -> bytes:
    """The file's content for tracer name -> (works, why) under `key`."""

    def field(text: str) -> str:
        return " ".join(text.split())  # no tab or newline can break a line

    lines = [_HEADER, f"key\t{field(key)}"]
    lines += [
        f"{field(name)}\t{int(works)}\t{field(why)}" for name, (works, why) in answers.items()
    ]
    return ("\n".join(lines) + "\n").encode()


def cached_probes(cache_file: str | os.PathLike[str], key: str) -> dict[str, tuple[bool, str]]:
    """Tracer name -> (works, why) as remembered under `key`; empty when the file is
    missing, unreadable, malformed or written under another key."""
    try:
        with open(cache_file, "rb") as handle:
            lines = handle.read().decode().splitlines()
    except (OSError, UnicodeDecodeError):
        return {}
    if len(lines) < 2 or lines[0] != _HEADER or lines[1] != f"key\t{' '.join(key.split())}":
        return {}
    answers: dict[str, tuple[bool, str]] = {}
    for line in lines[2:]:
        fields = line.split("\t", 2)
        if len(fields) != 3 or fields[1] not in ("0", "1"):
            return {}  # damaged: probe again
        answers[fields[0]] = (fields[1] == "1", fields[2])
    return answers
