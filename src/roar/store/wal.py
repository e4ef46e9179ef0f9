"""Keeping SQLite's WAL checkpoints off the path a user waits on.

SQLite folds the write-ahead log back into the database (a checkpoint) when a commit
leaves more than 1,000 pages in it, and again when the last connection closes. A `roar
run` that records thousands of files writes about that much, so nearly every such run
paid for a checkpoint after its command had ended: 40-80 ms of page copying and fsync.

A connection opened with `defer_checkpoints` does neither; instead, while the next traced
command runs (roar itself is idle then), `BackgroundCheckpoint` folds a log that has grown
past `CHECKPOINT_AFTER_BYTES` from a second connection. The log stays bounded and the
database stays correct either way: a checkpoint only moves committed pages, and a reader
sees the same data through the log as after it. The fold runs while the run's own
connection is open, so its commit finds the log fully folded and writes it from the start
(`journal_size_limit = 0` then cuts the file to that). A log folded by a connection that
was the last to close is replayed by the next opener, which counts its frames as unfolded
again (SQLite keeps that count in shared memory only): they are copied twice, no more.

Python 3.12 can switch the checkpoint-on-close off (`Connection.setconfig`). On 3.11 the
same C call is made with the handle CPython keeps in the connection object, by roar's C
extension (`_sqlite_handle.c`), else through ctypes (3-5 ms more of `roar run`'s fixed
cost, for the import); where neither can be done safely, deferral is simply not used.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading
from pathlib import Path

from roar.store.sqlite_driver import driver as sqlite3

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    import ctypes
    from typing import Any

__all__ = ["CHECKPOINT_AFTER_BYTES", "BackgroundCheckpoint", "skip_checkpoint_on_close"]

#: SQLite's own default threshold (1,000 pages of 4 KiB).
CHECKPOINT_AFTER_BYTES = 4 << 20

_NO_CKPT_ON_CLOSE = 1006  # SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE (SQLite 3.16+)
_HANDLE_OFFSET = 16  # CPython 3.11: the sqlite3* right after the object header


@functools.cache
def _c_library() -> ctypes.CDLL | None:
    """The SQLite library the `sqlite3` module is linked with (its symbols, not a copy)."""
    import ctypes  # here: only Python 3.11 comes this way, and `roar run` starts faster

    try:
        import _sqlite3

        library = ctypes.CDLL(_sqlite3.__file__)
        library.sqlite3_db_filename.restype = ctypes.c_char_p
        library.sqlite3_db_filename.argtypes = (ctypes.c_void_p, ctypes.c_char_p)
        library.sqlite3_db_config.restype = ctypes.c_int
        # variadic after the first two: (int on/off, int *result)
        library.sqlite3_db_config.argtypes = (ctypes.c_void_p, ctypes.c_int)
    except (ImportError, OSError, AttributeError):
        return None
    return library


def _native() -> Any:
    """roar's C extension for the two calls (None where it was not built)."""
    try:
        from roar.store import _sqlite_handle  # type: ignore[attr-defined]
    except ImportError:
        return None
    return _sqlite_handle


def _names(filename: bytes | None, path: str) -> bool:
    """Whether the handle's database file (sqlite3_db_filename) is the one at `path`: it
    must be before anything is set through it."""
    if filename is None:
        return False
    return os.path.realpath(os.fsdecode(filename)) == os.path.realpath(path)


def _handle_is_known() -> bool:
    """Only a release CPython 3.11 is known to keep the handle at `_HANDLE_OFFSET`."""
    return (
        sys.implementation.name == "cpython"
        and sys.version_info[:2] == (3, 11)
        and not hasattr(sys, "gettotalrefcount")  # debug builds widen the object header
    )


def skip_checkpoint_on_close(conn: sqlite3.Connection, path: str) -> bool:
    """Ask SQLite not to checkpoint when `conn` (on the file at `path`) closes; False
    when this Python cannot, and nothing was changed."""
    setconfig = getattr(conn, "setconfig", None)
    if setconfig is not None:  # Python 3.12+
        option = getattr(sqlite3, "SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE", _NO_CKPT_ON_CLOSE)
        try:
            setconfig(option, True)
        except (sqlite3.Error, ValueError):  # ValueError: an option this build does not know
            return False
        return True
    if not _handle_is_known():
        return False
    native = _native()
    if native is not None:
        try:
            import _sqlite3

            library_path = os.fsencode(_sqlite3.__file__)
            if not _names(native.filename(conn, library_path), path):
                return False
            return bool(native.no_checkpoint_on_close(conn, library_path))
        except (ImportError, OSError, AttributeError):
            return False
    library = _c_library()
    if library is None:
        return False
    import ctypes

    # A c_void_p, never a bare int: ctypes would pass an int as a 32-bit C int.
    handle = ctypes.c_void_p.from_address(id(conn) + _HANDLE_OFFSET)
    if not _names(library.sqlite3_db_filename(handle, b"main"), path):
        return False
    result: int = library.sqlite3_db_config(
        handle, _NO_CKPT_ON_CLOSE, ctypes.c_int(1), ctypes.c_void_p(None)
    )
    return result == 0


class BackgroundCheckpoint:
    """Checkpoint the database at `path` on a thread when its WAL has grown past
    `threshold` bytes; `join()` before the process ends. Errors are ignored: the next
    run, or any other roar command, checkpoints again."""

    def __init__(self, path: Path | None, threshold: int | None = None) -> None:
        self._thread: threading.Thread | None = None
        if path is None:  # not an SQLite store: nothing to fold
            return
        if threshold is None:
            threshold = CHECKPOINT_AFTER_BYTES
        try:
            size = os.path.getsize(f"{path}-wal")
        except OSError:
            return
        if size > threshold:
            self._thread = threading.Thread(
                target=self._checkpoint, args=(path,), name="roar-checkpoint", daemon=True
            )
            self._thread.start()

    @property
    def started(self) -> bool:
        return self._thread is not None

    @staticmethod
    def _checkpoint(path: Path) -> None:
        with contextlib.suppress(sqlite3.Error, OSError):
            conn = sqlite3.connect(path, timeout=5.0, isolation_level=None)
            try:
                skip_checkpoint_on_close(conn, str(path))
                # PASSIVE never waits for readers or writers; what it cannot fold now,
                # a later checkpoint will.
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            finally:
                conn.close()

    def join(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
