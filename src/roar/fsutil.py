"""Crash-safe file writes (a reader sees the old bytes or the new bytes, never a mix),
and a PATH search that does not cost `roar run` the import of shutil."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from roar.which import find_program

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:  # pathlib costs `roar run` milliseconds before its command can start
    from pathlib import Path
    from typing import BinaryIO

__all__ = [
    "atomic_write_bytes",
    "atomic_writer",
    "create_temp_file",
    "find_program",
    "fsync_directory",
]


def create_temp_file(directory: Path, prefix: str = "", suffix: str = "") -> tuple[int, str]:
    """A new file of our own in `directory` (mode 0600, opened for writing), as
    `tempfile.mkstemp` makes one: its descriptor and path. Written out because tempfile
    brings shutil and random with it, 8 ms of the start-up of a `roar run` that stores its
    dirty-tree patch."""
    for _ in range(100):
        name = os.path.join(directory, f"{prefix}{os.urandom(6).hex()}{suffix}")
        try:
            fd = os.open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        except FileExistsError:
            continue  # 48 random bits taken: try another name
        return fd, name
    raise FileExistsError(f"no free temporary name in {directory}")


def fsync_directory(directory: Path) -> None:
    """Make a rename or a new entry in `directory` durable."""
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_writer(path: Path, mode: int = 0o644) -> Iterator[BinaryIO]:
    """A handle on a temp file in `path`'s directory that becomes `path` on a clean exit
    (fsync, chmod, rename, fsync the directory); on an exception it is deleted instead."""
    fd, tmp_name = create_temp_file(path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    fsync_directory(path.parent)


def atomic_write_bytes(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write `data` to `path` via a temp file in the same directory, fsync and rename."""
    with atomic_writer(path, mode) as handle:
        handle.write(data)
