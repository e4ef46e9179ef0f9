"""Hash a job's big inputs while the command still runs.

A training run reads its data long before it ends. Hashing those files only afterwards
makes the user wait a second time for bytes the machine already read: seconds per
gigabyte the first time a dataset is seen. The tracer tells roar, as the run goes, which
files the command opened for reading (seccomp tracer only); this hasher takes the big ones
that roar would record and that its hash cache does not already know, and hashes them on
a thread at the lowest CPU priority, so the command keeps what it needs.

Nothing is trusted on faith. An early digest is kept only under the hash cache's rules:
the file's stat (device, inode, size, mtime, ctime) is the same before and after reading,
and its last change is older than the racy window. At the end it is used only where the
classifier's stat of the same file still matches (`Hasher` treats it as a cache entry);
anything else is hashed then, as before. Work cut short by the end of the run is dropped.
"""

from __future__ import annotations

import contextlib
import os
import queue
import stat
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from roar.models import HashCacheEntry

__all__ = ["EarlyHasher", "LayeredCache"]

#: Smaller files cost little to hash at the end, mostly from the page cache.
EARLY_MIN_BYTES = 4 << 20
#: Bytes per read: the stop signal is checked between reads.
_READ_BYTES = 4 << 20


class _Lookup(Protocol):
    def lookup_hashes(self, paths: Sequence[str]) -> Mapping[str, HashCacheEntry]: ...


class _Cache(_Lookup, Protocol):
    def close(self) -> None: ...


class EarlyHasher:
    """`opened(paths)` (the tracer's `reads`) queues paths; `finish()` stops the work and
    returns what was hashed, keyed by path with its directories resolved (as the access
    log names files).

    Both factories run on the worker thread, only when needed, so none of their cost
    falls before the command starts: `make_accept` when the first path arrives (it returns
    "would roar record this file as an input?"), `open_cache` when the first big file is
    found (the cache to ask before hashing; closed at the end).
    """

    def __init__(
        self,
        make_accept: Callable[[], Callable[[str], bool]],
        open_cache: Callable[[], _Cache] | None = None,
        *,
        min_bytes: int = EARLY_MIN_BYTES,
        racy_window_ns: int | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self._make_accept, self._open_cache = make_accept, open_cache
        self._min_bytes = min_bytes
        self._racy_window_ns = racy_window_ns
        self._clock = clock
        self._cache: _Cache | None = None
        self._queue: queue.Queue[list[str] | None] = queue.Queue()
        self._stop = threading.Event()
        self._entries: dict[str, HashCacheEntry] = {}
        self._thread = threading.Thread(target=self._work, name="roar-early-hash", daemon=True)
        self._thread.start()

    def opened(self, paths: Sequence[str]) -> None:
        self._queue.put(list(paths))

    def drain(self) -> None:
        """Wait until every path offered so far has been dealt with (finish drops the
        rest: at the end of a run, roar would rather hash a file than wait for it)."""
        self._queue.join()

    def finish(self) -> dict[str, HashCacheEntry]:
        self._stop.set()
        self._queue.put(None)
        self._thread.join()
        return dict(self._entries)

    # -- the worker thread -----------------------------------------------------------------

    def _work(self) -> None:
        with contextlib.suppress(OSError):  # nice 19 for this thread only (Linux)
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        seen: set[str] = set()
        directories: dict[str, str] = {}
        accept: Callable[[str], bool] | None = None
        try:
            while True:
                batch = self._queue.get()
                try:
                    if batch is None or self._stop.is_set():
                        return
                    for raw in batch:
                        if self._stop.is_set():
                            break
                        path = _resolved(raw, directories)
                        if path in seen:
                            continue
                        seen.add(path)
                        if accept is None:
                            accept = self._make_accept()
                        if accept(path):
                            self._consider(path)
                finally:
                    self._queue.task_done()
        except Exception:  # noqa: BLE001, S110 - early hashing is a head start, never a need
            self._drop_the_rest()
        finally:
            if self._cache is not None:
                with contextlib.suppress(Exception):
                    self._cache.close()

    def _drop_the_rest(self) -> None:
        """After a failure: answer every later batch at once, so drain() cannot hang."""
        while self._queue.get() is not None:
            self._queue.task_done()
        self._queue.task_done()

    def _consider(self, path: str) -> None:
        if self._racy_window_ns is None:
            from roar.hashing.hasher import RACY_WINDOW_NS

            self._racy_window_ns = RACY_WINDOW_NS
        stat_time = self._clock()
        try:
            before = os.stat(path)
        except OSError:
            return
        if not stat.S_ISREG(before.st_mode) or before.st_size < self._min_bytes:
            return
        if stat_time - max(before.st_mtime_ns, before.st_ctime_ns) <= self._racy_window_ns:
            return  # changed too recently to be trusted later: the end hashes it
        if self._cache is None and self._open_cache is not None:
            self._cache = self._open_cache()
        if self._cache is not None:
            known = self._cache.lookup_hashes([path]).get(path)
            if known is not None and _signature(before) == _entry_signature(known):
                return  # the cache answers at the end already
        digest = self._digest(path)
        if digest is None:
            return
        try:
            after = os.stat(path)
        except OSError:
            return
        if _signature(after) == _signature(before):  # unchanged while it was read
            self._entries[path] = HashCacheEntry(path, *_signature(before), digest)

    def _digest(self, path: str) -> str | None:
        from blake3 import blake3

        hasher = blake3()  # one thread: the command may need every other core
        buffer = bytearray(_READ_BYTES)
        view = memoryview(buffer)
        try:
            with open(path, "rb", buffering=0) as handle:
                while count := handle.readinto(buffer):
                    if self._stop.is_set():
                        return None
                    hasher.update(view[:count])
        except OSError:
            return None
        finally:
            view.release()
        return str(hasher.hexdigest())


class LayeredCache:
    """A hash cache that answers from early digests first, then from `below`; new entries
    go to `below`."""

    def __init__(self, early: Mapping[str, HashCacheEntry], below: _Store) -> None:
        self._early, self._below = early, below

    def lookup_hashes(self, paths: Sequence[str]) -> Mapping[str, HashCacheEntry]:
        rest = [path for path in paths if path not in self._early]
        found = dict(self._below.lookup_hashes(rest)) if rest else {}
        found.update((path, self._early[path]) for path in paths if path in self._early)
        return found

    def store_hashes(self, entries: Sequence[HashCacheEntry]) -> None:
        self._below.store_hashes(entries)


class _Store(_Lookup, Protocol):
    def store_hashes(self, entries: Sequence[HashCacheEntry]) -> None: ...


def _resolved(path: str, directories: dict[str, str]) -> str:
    """The path with its directories resolved and its name kept, as in the access log;
    `directories` remembers each directory's answer for the rest of the run."""
    directory, _, name = path.rpartition("/")
    real = directories.get(directory)
    if real is None:
        real = directories[directory] = os.path.realpath(directory or "/").rstrip("/")
    return real + "/" + name


def _signature(st: os.stat_result) -> tuple[int, int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _entry_signature(entry: HashCacheEntry) -> tuple[int, int, int, int, int]:
    return (entry.dev, entry.inode, entry.size, entry.mtime_ns, entry.ctime_ns)
