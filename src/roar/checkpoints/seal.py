"""The write barrier of SEALING: prove nobody is writing a folder, make its bytes durable
and hash them, in one pass over the files.

A file still open for writing by any process is refused (Linux: a read lease cannot be
taken on such a file), and so is one whose size, mtime or ctime moved while it was being
fsynced and hashed. For big files the fsync runs in a thread while blake3 hashes the
page-cached bytes, so sealing costs about one flush, not a flush plus a read.
"""

from __future__ import annotations

import errno
import fcntl
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from roar.checkpoints.model import FileEntry
from roar.errors import FolderBusy
from roar.fsutil import fsync_directory
from roar.hashing import hash_file
from roar.hashing.digest import BIG_FILE_BYTES

__all__ = ["check_nobody_writes", "check_unchanged", "list_files", "seal_directory"]

_WORKERS = 4


def _assert_not_open_for_writing(fd: int, folder: str, rel: str) -> None:
    lease = getattr(fcntl, "F_SETLEASE", None)
    if lease is None:  # not Linux: the stat comparison alone guards
        return
    try:
        fcntl.fcntl(fd, lease, fcntl.F_RDLCK)
    except OSError as exc:
        if exc.errno == errno.EAGAIN:
            raise FolderBusy(f"{rel} is open for writing", folder=folder) from None
        return  # EACCES (not our file), EINVAL (filesystem without leases)
    fcntl.fcntl(fd, lease, fcntl.F_UNLCK)


def _stamp(stat: os.stat_result) -> tuple[int, int, int]:
    return (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


def _sync_and_hash(fd: int, path: Path, size: int, sync: bool) -> str:
    if not sync:
        return hash_file(path)
    if size < BIG_FILE_BYTES:
        os.fsync(fd)
        return hash_file(path)
    failed: list[OSError] = []

    def flush() -> None:
        try:
            os.fsync(fd)
        except OSError as exc:
            failed.append(exc)

    syncing = threading.Thread(target=flush, name="roar-ckpt-fsync")
    syncing.start()
    try:
        digest = hash_file(path)
    finally:
        syncing.join()
    if failed:
        raise failed[0]
    return digest


def _seal_file(root: Path, rel: str, folder: str, sync: bool) -> FileEntry:
    path = root / rel
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        _assert_not_open_for_writing(fd, folder, rel)
        before = _stamp(os.fstat(fd))
        digest = _sync_and_hash(fd, path, before[0], sync)
        after = _stamp(os.fstat(fd))
    finally:
        os.close(fd)
    if before != after:
        raise FolderBusy(f"{rel} changed while it was being sealed", folder=folder)
    return FileEntry(rel, before[0], digest)


def list_files(root: Path, folder: str) -> tuple[list[str], list[Path]]:
    """Relative file paths (sorted, '/'-separated) and every directory of the tree."""
    files: list[str] = []
    dirs: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirs.append(here)
        for name in dirnames:
            if (here / name).is_symlink():
                raise FolderBusy(f"{name} is a symlink; copy its target in", folder=folder)
        for name in filenames:
            full = here / name
            if full.is_symlink() or not full.is_file():
                raise FolderBusy(
                    f"{full.relative_to(root)} is not a regular file; copy its content in",
                    folder=folder,
                )
            files.append(full.relative_to(root).as_posix())
    return sorted(files), dirs


Stamp = tuple[int, int, int, int]


def _full_stamp(stat: os.stat_result) -> Stamp:
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


def check_nobody_writes(root: Path, folder: str) -> dict[str, Stamp]:
    """Each file of the folder (as `list_files`) with its inode, size and times, refusing
    one still open for writing. Taken before a commit starts; `check_unchanged` at its end
    proves nobody wrote in between, whatever order the hashing and the upload ran in."""
    files, _dirs = list_files(root, folder)
    stamps: dict[str, Stamp] = {}
    for rel in files:
        try:
            fd = os.open(root / rel, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            raise FolderBusy(f"{rel} vanished while sealing", folder=folder) from None
        try:
            _assert_not_open_for_writing(fd, folder, rel)
            stamps[rel] = _full_stamp(os.fstat(fd))
        finally:
            os.close(fd)
    return stamps


def check_unchanged(root: Path, folder: str, stamps: dict[str, Stamp]) -> None:
    """Refuse the commit when a file under `root` (where the stamped files are now) was
    written, replaced, added or removed since `check_nobody_writes`."""
    files, _dirs = list_files(root, folder)
    if files != sorted(stamps):
        raise FolderBusy("files were added or removed while committing", folder=folder)
    for rel, stamp in stamps.items():
        try:
            now = _full_stamp(os.stat(root / rel, follow_symlinks=False))
        except FileNotFoundError:
            raise FolderBusy(f"{rel} vanished while committing", folder=folder) from None
        if now != stamp:
            raise FolderBusy(f"{rel} changed while it was being committed", folder=folder)


def seal_directory(root: Path, folder: str, *, sync: bool = True) -> list[FileEntry]:
    """fsync and hash every file under `root` (and fsync its directories), refusing a
    folder that is still being written. Returns the manifest entries, sorted by path.
    `sync=False` skips the fsyncs: for remote stores, where the staged copy is only the
    source of an upload and durability comes from the store."""
    files, dirs = list_files(root, folder)
    try:
        with ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="roar-seal") as pool:
            entries = list(pool.map(lambda rel: _seal_file(root, rel, folder, sync), files))
        for directory in dirs if sync else []:
            fsync_directory(directory)
    except FileNotFoundError as exc:
        raise FolderBusy(f"{exc.filename} vanished while sealing", folder=folder) from None
    if list_files(root, folder)[0] != files:
        raise FolderBusy("files were added or removed while sealing", folder=folder)
    return entries
