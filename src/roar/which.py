"""A PATH search that costs `roar run` nothing before its command starts: no shutil (with
zlib, bz2 and lzma behind it), no typing; only os."""

from __future__ import annotations

import os

__all__ = ["find_program"]


def find_program(name: str, path: str | None = None) -> str | None:
    """`shutil.which(name, path=path)` on POSIX: the first executable file named `name` on
    `path` (default: $PATH), or `name` itself when it names a directory part. Written out
    because importing shutil (with zlib, bz2 and lzma behind it) costs 4-5 ms of every
    `roar run`, which needs only this."""
    if os.path.dirname(name):
        return name if _is_program(name) else None
    search = os.environ.get("PATH", os.defpath) if path is None else path
    seen: set[str] = set()
    for directory in search.split(os.pathsep):
        if directory in seen:
            continue
        seen.add(directory)
        candidate = os.path.join(directory, name)
        if _is_program(candidate):
            return candidate
    return None


def _is_program(path: str) -> bool:
    return os.access(path, os.F_OK | os.X_OK) and not os.path.isdir(path)
