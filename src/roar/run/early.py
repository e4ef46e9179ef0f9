"""Hash a job's big files while the command still runs.

A training run reads its data long before it ends, and writes checkpoints long before it
ends. Hashing all of them only afterwards makes the user wait a second time for bytes the
machine already moved: seconds per gigabyte. The tracer tells roar, as the run goes, which
files the command opened for reading and which for writing (seccomp and strace). This
hasher takes the big ones roar would record (4 MiB and up) and hashes them on a thread at
the lowest CPU priority, so the command keeps what it needs:

- an input at once, unless roar's hash cache already knows it;
- an output, or an input changed just before the run, once it has been left alone for the
  racy window (its last change 2 s old), looked at every half second; one that changes
  while it is read waits twice as long the next time;
- an output the tracer saw opened by an emptying or creating open, as it is written
  (run/tail.py): its digest is used only if the tracer's facts prove it at the end.

Every input roar would record is looked up in the hash cache first, in one query per
message from the tracer; only one the cache does not know as small is looked at here (a
stat, then perhaps a digest), so a job that reads thousands of small files it read before
costs the run no stat each. The end asks the store only about what it has not seen:
`known()` holds those entries, which the end checks against its own stat as it would any
cache entry.

Nothing is trusted on faith. An early digest is kept only under the hash cache's rules:
the file's stat (device, inode, size, mtime, ctime) is the same before and after reading,
and its last change is older than the racy window, so a later write would show in the
stat. At the end a digest is used only where the classifier's stat of the same file still
matches (`Hasher` treats it as a cache entry); everything else is hashed then, as before.
Work cut short by the end of the run is dropped.
"""

from __future__ import annotations

import contextlib
import os
import queue
import stat
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from roar.models import EMPTY, HashCacheEntry, stat_key
from roar.run.tail import TailDigest, Tails
from roar.trace.model import Before

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Protocol

    class _Lookup(Protocol):
        def lookup_hashes(self, paths: Sequence[str]) -> Mapping[str, HashCacheEntry]: ...

    class _Cache(_Lookup, Protocol):
        def close(self) -> None: ...

    class _Store(_Lookup, Protocol):
        def store_hashes(self, entries: Sequence[HashCacheEntry]) -> None: ...


__all__ = ["EARLY_MIN_BYTES", "EarlyHasher", "LayeredCache"]

#: Smaller files cost little to hash at the end, mostly from the page cache.
EARLY_MIN_BYTES = 4 << 20
#: Bytes per read: the stop signal is checked between reads.
_READ_BYTES = 4 << 20
#: How often outputs that are still being written are looked at again.
_RECHECK_S = 0.5
#: How often tails are looked at while they are being written.
_TAIL_POLL_S = 0.005


#: What the tracer told in one `opened` call: reads, writes, fresh writes.
_Batch = tuple[list[str], list[str], list[tuple[str, Before]]]

#: "Would roar record this file?" for (path, is_output).
Accept = Callable[[str, bool], bool]


class EarlyHasher:
    """`opened(reads, writes)` (the tracer's `opened`) queues paths; `finish()` stops the
    work and returns what was hashed, keyed by path with its directories resolved (as the
    access log names files).

    Both factories run on the worker thread, only when needed, so none of their cost
    falls before the command starts: `make_accept` when the first path arrives,
    `open_cache` when the first input roar would record arrives (the cache asked about
    every input; closed at the end).
    """

    def __init__(
        self,
        make_accept: Callable[[], Accept],
        open_cache: Callable[[], _Cache] | None = None,
        *,
        min_bytes: int = EARLY_MIN_BYTES,
        racy_window_ns: int | None = None,
        recheck_s: float = _RECHECK_S,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self._make_accept, self._open_cache = make_accept, open_cache
        self._min_bytes = min_bytes
        self._racy_window_ns = racy_window_ns
        self._recheck_s = recheck_s
        self._clock = clock
        self._cache: _Cache | None = None
        self._queue: queue.Queue[_Batch | None] = queue.Queue()
        self._stop = threading.Event()
        self._entries: dict[str, HashCacheEntry] = {}
        # the store's cache entries for inputs seen so far (looked up, not hashed here)
        self._known: dict[str, HashCacheEntry] = {}
        # files to hash once they rest (outputs being written, inputs changed just before
        # the run): path -> (when to look next, rest asked beyond the racy window)
        self._waiting: dict[str, tuple[float, float]] = {}
        self._tails = Tails(min_bytes=min_bytes)
        self._tail_digests: list[TailDigest] = []
        self._tails_end: threading.Thread | None = None  # reads the tails' rest (finish())
        self._tails_behind = False
        self._thread = threading.Thread(target=self._work, name="roar-early-hash", daemon=True)
        self._thread.start()

    def opened(
        self,
        reads: Sequence[str],
        writes: Sequence[str] = (),
        fresh: Sequence[tuple[str, Before]] = (),
    ) -> None:
        """The tracer's `opened` (trace/base.py): `fresh` writes are tailed."""
        self._queue.put((list(reads), list(writes), list(fresh)))

    def digests(self) -> dict[str, HashCacheEntry]:
        """What has been hashed so far; the work goes on."""
        return dict(self._entries)

    def drain(self) -> None:
        """Wait until every path offered so far has been dealt with (finish drops the
        rest: at the end of a run, roar would rather hash a file than wait for it).
        Outputs still being written are looked at again later, not waited for."""
        self._queue.join()

    def finish(self) -> dict[str, HashCacheEntry]:
        """Stop, once every process of the command has exited, and return the digests
        taken. The tails are read to their end on a thread of their own, at the caller's
        priority (the worker's is the lowest), while the caller goes on with what needs
        no digest: classifying the trace, the environment. `tailed()` waits for them."""
        self._stop_worker()
        if self._tails.tailing:
            self._tails_end = threading.Thread(
                target=self._finish_tails, name="roar-tail-end", daemon=True
            )
            self._tails_end.start()
        else:
            self._tails.close()
        return dict(self._entries)

    def _finish_tails(self) -> None:
        try:
            self._tail_digests = self._tails.finish()
        except Exception:  # noqa: BLE001 - a head start, never a need
            self._tails.close()

    def abandon(self) -> None:
        """Stop, for a job that will not be recorded: unlike finish(), the tails are not
        read to their end (for a big output written fast, seconds before roar's error).
        After finish(), this waits for the tails' rest, which closes their files."""
        self._stop_worker()
        if self._tails_end is not None:
            self._tails_end.join()
        else:
            self._tails.close()

    def _stop_worker(self) -> None:
        """Cut the worker's work short and wait for it to end."""
        self._stop.set()
        self._queue.put(None)
        self._thread.join()

    def tailed(self) -> list[TailDigest]:
        """What the tails read (after finish(), waiting until they are read to their
        end); to be proven (run/tail.proven_entries)."""
        if self._tails_end is not None:
            self._tails_end.join()
        return list(self._tail_digests)

    def known(self) -> dict[str, HashCacheEntry]:
        """The hash cache's entries for the inputs looked up during the run (after
        finish()); already in the store, unlike the digests finish() returns."""
        return dict(self._known)

    # -- the worker thread -----------------------------------------------------------------

    def _work(self) -> None:
        with contextlib.suppress(OSError):  # nice 19 for this thread only (Linux)
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        directories: dict[str, str] = {}
        seen_inputs: set[str] = set()
        accept: Accept | None = None
        try:
            while True:
                try:
                    batch = self._queue.get(timeout=self._wait_s())
                except queue.Empty:
                    self._tails_behind = self._tails.work()
                    self._look_at_waiting()
                    continue
                try:
                    if batch is None or self._stop.is_set():
                        return
                    reads, writes, fresh = batch
                    if accept is None:
                        # Only now, with the command running: an import here while roar
                        # forks the command would hold the fork up (fork waits for imports).
                        accept = self._make_accept()
                        if self._racy_window_ns is None:
                            from roar.hashing.hasher import RACY_WINDOW_NS

                            self._racy_window_ns = RACY_WINDOW_NS
                    new_inputs = []
                    for raw in reads:
                        path = _resolved(raw, directories)
                        if path not in seen_inputs:
                            seen_inputs.add(path)
                            if accept(path, False):
                                new_inputs.append(path)
                    self._consider_inputs(new_inputs)
                    for raw in writes:
                        path = _resolved(raw, directories)
                        if path not in self._waiting and accept(path, True):
                            self._waiting[path] = (time.monotonic(), 0.0)
                    self._tails.offer(
                        [
                            (path, before)
                            for raw, before in fresh
                            if accept(path := _resolved(raw, directories), True)
                        ]
                    )
                    self._tails_behind = self._tails.work()
                    self._look_at_waiting()
                finally:
                    self._queue.task_done()
        except Exception:  # noqa: BLE001 - early hashing is a head start, never a need
            self._drop_the_rest()
        finally:
            if self._cache is not None:
                with contextlib.suppress(Exception):
                    self._cache.close()

    def _wait_s(self) -> float | None:
        """How long the worker may wait for the next batch."""
        if self._tails_behind:
            return 0.0  # a tail moved on last time: there may be more already
        if self._tails.tailing:
            return _TAIL_POLL_S
        waits = [self._tails.next_look_s(), self._recheck_s if self._waiting else None]
        return min((w for w in waits if w is not None), default=None)

    def _drop_the_rest(self) -> None:
        """After a failure: answer every later batch at once, so drain() cannot hang."""
        while self._queue.get() is not None:
            self._queue.task_done()
        self._queue.task_done()

    def _consider_inputs(self, paths: Sequence[str]) -> None:
        """Ask the cache about one message's new inputs in one query, then look at those it
        does not know as small: a small file is cheap to hash at the end, and the end's
        stat checks the entry anyway (a file grown since is hashed then)."""
        if not paths or self._stop.is_set():
            return
        cache = self._opened_cache()
        found = {} if cache is None else cache.lookup_hashes(paths)
        self._known.update(found)
        for path in paths:
            known = found.get(path)
            if known is not None and known.size < self._min_bytes:
                continue
            if self._stop.is_set():
                return
            self._consider_input(path, known)

    def _consider_input(self, path: str, known: HashCacheEntry | None) -> None:
        stat_time = self._clock()  # before the stat, as the racy rule needs
        try:
            st = os.stat(path)
        except OSError:
            return
        if not stat.S_ISREG(st.st_mode) or st.st_size < self._min_bytes:
            return  # not a file, or cheap to hash at the end
        assert self._racy_window_ns is not None
        if stat_time - max(st.st_mtime_ns, st.st_ctime_ns) <= self._racy_window_ns:
            # written just before the run (the step before this one): hashed once it rests
            self._waiting.setdefault(path, (time.monotonic() + self._recheck_s, 0.0))
            return
        if known is not None and known.matches(st):
            return  # the cache answers at the end already
        self._hash(path, st)

    def _opened_cache(self) -> _Cache | None:
        if self._cache is None and self._open_cache is not None:
            self._cache = self._open_cache()
        return self._cache

    def _look_at_waiting(self) -> None:
        now = time.monotonic()
        for path, (due, quiet_s) in list(self._waiting.items()):
            if self._stop.is_set():
                return
            if due > now:
                continue
            stat_time = self._clock()  # before the stat, as the racy rule needs
            try:
                st = os.stat(path)
            except OSError:
                del self._waiting[path]  # deleted (a temp file) or renamed away
                continue
            if not stat.S_ISREG(st.st_mode):
                del self._waiting[path]
                continue
            assert self._racy_window_ns is not None
            age_ns = stat_time - max(st.st_mtime_ns, st.st_ctime_ns)
            if age_ns <= self._racy_window_ns + quiet_s * 1e9:
                self._waiting[path] = (now + self._recheck_s, quiet_s)
                continue  # still being written, or only just finished
            del self._waiting[path]
            known = self._entries.get(path)
            if st.st_size < self._min_bytes or (known is not None and known.matches(st)):
                continue
            if self._hash(path, st):
                self._tails.drop(path)  # its digest is taken: no need to follow it further
            else:
                # changed while it was read: written again later, so ask for a longer rest
                self._waiting[path] = (now + self._recheck_s, max(2 * quiet_s, 2.0))

    def _hash(self, path: str, before: os.stat_result) -> bool:
        """Hash `path` and keep the digest if its stat did not move meanwhile."""
        digest = self._digest(path)
        if digest is None:
            return False
        try:
            after = os.stat(path)
        except OSError:
            return False
        if stat_key(after) != stat_key(before):
            return False
        self._entries[path] = HashCacheEntry.of(path, before, digest)
        return True

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
    """A hash cache that answers from early digests first, then from entries `known` from
    `below` already (looked up during the run), then from `below`; new entries go to
    `below`."""

    def __init__(
        self,
        early: Mapping[str, HashCacheEntry],
        below: _Store,
        known: Mapping[str, HashCacheEntry] = EMPTY,
    ) -> None:
        self._early, self._below, self._known = early, below, known

    def lookup_hashes(self, paths: Sequence[str]) -> Mapping[str, HashCacheEntry]:
        early, known = self._early, self._known
        rest = [path for path in paths if path not in early and path not in known]
        found = dict(self._below.lookup_hashes(rest)) if rest else {}
        for path in paths:
            entry = early.get(path) or known.get(path)
            if entry is not None:
                found[path] = entry
        return found

    def store_hashes(self, entries: Sequence[HashCacheEntry]) -> None:
        self._below.store_hashes(entries)


def _resolved(path: str, directories: dict[str, str]) -> str:
    """The path with its directories resolved and its name kept, as in the access log;
    `directories` remembers each directory's answer for the rest of the run."""
    directory, _, name = path.rpartition("/")
    real = directories.get(directory)
    if real is None:
        real = directories[directory] = os.path.realpath(directory or "/").rstrip("/")
    return real + "/" + name
