"""Hash outputs while the command writes them, and prove afterwards that the hash holds.

A job that writes a big file at its end (a model, a checkpoint, an export) used to make
the user wait once more while roar read it all back: about 90 ms per GiB on two cores.
But the bytes pass through the page cache as they are written, so threads can read them
a few megabytes behind the writer, on cores the writer does not use, and hash them then.
They run at the lowest CPU priority and take only what the command and roar leave idle;
at the end, what is left (roar itself needed a core while the command started) is hashed
by threads at roar's own priority, on every core, while roar classifies the trace.

Reading while another process writes proves nothing by itself: a byte already hashed may
be written again (a header filled in last, a seek back, a second writer). So a tail is
used only with proof from the tracer (`RewriteFacts`, from the seccomp tracer's C loop,
which stops every call that could write behind a file's end: see
seccomp_filter.TAIL_CALLS) that none of that happened to its file:

- the file was opened for writing once in the whole job, by a truncating or creating open
  (O_TRUNC, O_EXCL or creat), so every write of that descriptor landed at or past the end;
- no other name was opened for writing onto the same inode (hard links, /proc/N/fd/M);
- no call that writes at an offset, seeks a descriptor back, truncates, preallocates,
  maps it shared or starts asynchronous I/O concerned that inode;
- every process of the job has exited, and the file roar records has the inode, size,
  mtime and ctime the tail saw when it finished.

Anything short of that and the file is hashed at the end, as before.

A tail also must not start before the open it follows has run. The tracer hears an open
as it is made, and the command makes it only once the tracer has let it go: a look in
between finds no file yet (the open creates it), or, worse, the previous content of a
file the open is about to empty. A tail that read old bytes before the emptying and new
ones after would pass every proof above. So the tracer tells, with each open, the file
its path named then (device, inode, ctime), and a file is tailed only when it is not that
file as it was: a new inode, or the same one with a new ctime (set by the emptying and by
every write after it). Until then, and while there is no file, it is looked at again.
"""

from __future__ import annotations

import contextlib
import heapq
import os
import stat
import time
from collections.abc import Callable, Iterable, Mapping, Sequence

from roar.models import HashCacheEntry, stat_key
from roar.named_tuple import NamedTuple
from roar.trace.model import Before, RewriteFacts

__all__ = ["TAIL_MIN_BYTES", "TailDigest", "Tails", "proven_entries"]

#: A file is tailed once it is this big: smaller ones cost next to nothing at the end.
TAIL_MIN_BYTES = 4 << 20
#: Bytes per step: a tail stays this far behind the writer until the end. Where files can
#: be mapped (mapped.ZERO_COPY) the bytes are hashed in place, a third cheaper than reading
#: them into a buffer first, which lets a tail keep pace with a writer on one core.
_READ_BYTES = 4 << 20
#: Look at a new output at once, then after this long, then four times as long each time.
_FIRST_LOOK_S = 0.01
#: A big file its open has not emptied yet is looked at again this soon, for this long
#: after it was offered; then on the usual schedule. (The open runs microseconds after
#: the tracer lets it go; a ctime can lag behind one clock tick, a few ms.)
_UNCHANGED_LOOK_S = 0.005
_UNCHANGED_FOR_S = 0.1
_BACK_OFF = 4
#: Stop looking at an output that stayed small this long (it is hashed at the end).
_GIVE_UP_S = 5.0
#: Files tailed at once: each holds a descriptor of roar's until the end.
_MAX_TAILS = 64
#: Outputs watched at once: a job that writes thousands of files writes small ones, which
#: cost little at the end, and looking at each of them would cost more.
_MAX_CANDIDATES = 256
#: Bytes one tail reads before the others (and the early hasher's other work) get a turn.
_TURN_BYTES = 64 << 20
#: Tails with a thread pool of their own (the others hash on the early hasher's thread):
#: each pool holds a thread per core, up to _MAX_POOL_THREADS, until the end.
_POOLED_TAILS = 4
#: Hashing from the page cache stops scaling at a few threads: memory bandwidth runs out.
_MAX_POOL_THREADS = 8

Inode = tuple[int, int]


class TailDigest(NamedTuple):
    """What a tail read: the file opened under `path` (directories resolved), identified by
    its inode, with the stat it had when the tail ended and the hash of those bytes."""

    path: str
    inode: Inode
    st: os.stat_result
    hash: str


class _Candidate(NamedTuple):
    """An output watched until it is big enough to tail."""

    due: float  # when to look next (the clock of Tails)
    wait: float  # how long to wait after that look, if it is not tailed then
    since: float  # when it was offered
    before: Before  # the file its path named before the open


class _ReadBuffer:
    """The buffer tails read through where files cannot be mapped, made on first use:
    zeroing its 4 MiB cost every `roar run` milliseconds, where mapping needs none."""

    size = _READ_BYTES

    def __init__(self) -> None:
        self._bytes: bytearray | None = None

    def get(self) -> bytearray:
        if self._bytes is None:
            self._bytes = bytearray(self.size)
        return self._bytes


class _Tail:
    """One file being hashed as it grows."""

    def __init__(self, path: str, fd: int, inode: Inode, threads: int) -> None:
        # Imported here, with the first tail: roar.hashing and blake3 load while the
        # command runs, not before it starts.
        from blake3 import blake3

        from roar.hashing import mapped

        self._mapped = mapped
        self.path, self.fd, self.inode = path, fd, inode
        # Made on the early hasher's thread, so its pool's threads share that thread's
        # lowest priority: they use only what the command leaves idle. at_full_speed()
        # moves the state to a fresh pool at the caller's priority.
        self.threads = threads
        self.hasher = blake3(max_threads=threads)
        self.done = 0

    def at_full_speed(self) -> None:
        """Go on in a pool of threads made now, by the calling thread, at its priority
        rather than the lowest (blake3's copy() gives the copy a pool of its own)."""
        if self.threads > 1:
            self.hasher = self.hasher.copy()

    def advance(self, buffer: _ReadBuffer, *, until_end: bool = False) -> bool:
        """Hash what was written since (at most _TURN_BYTES, unless `until_end`); True
        when there was something. Takes only whole buffers unless `until_end`, so the
        tail stays a buffer behind the writer. Raises OSError when the file cannot be
        read or shrank."""
        if not self._mapped.ZERO_COPY:
            return self._advance_reading(buffer.get(), until_end=until_end)
        size = os.fstat(self.fd).st_size
        if size < self.done:
            raise OSError("the file shrank")  # the proof will fail anyway
        ready = size - self.done
        if not until_end:
            ready = min(ready - ready % buffer.size, _TURN_BYTES)
        if ready <= 0:
            return False
        self._mapped.feed(self.hasher, self.fd, self.done, ready)
        self.done += ready
        return True

    def _advance_reading(self, buffer: bytearray, *, until_end: bool) -> bool:
        """advance() where files cannot be mapped: through `buffer`."""
        view = memoryview(buffer)
        turn_ends = None if until_end else self.done + _TURN_BYTES
        try:
            progressed = False
            while turn_ends is None or self.done < turn_ends:
                size = os.fstat(self.fd).st_size
                if size < self.done:
                    raise OSError("the file shrank")  # the proof will fail anyway
                if size - self.done < (1 if until_end else len(buffer)):
                    return progressed
                count = os.preadv(self.fd, [buffer], self.done)
                if count <= 0:
                    return progressed
                self.hasher.update(view[:count])
                self.done += count
                progressed = True
            return progressed
        finally:
            view.release()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


class Tails:
    """Outputs offered by `offer()` (paths opened by truncating or creating opens) are
    looked at on a widening schedule; one that reaches `min_bytes` is tailed. `work()`
    does what is due; `finish()`, once every process of the job has exited, hashes what
    is left and returns the digests, to be checked with `proven_entries`."""

    def __init__(
        self,
        *,
        min_bytes: int = TAIL_MIN_BYTES,
        clock: Callable[[], float] = time.monotonic,
        inherited: Iterable[int] = (0, 1, 2),
        threads: int | None = None,
    ) -> None:
        self._min_bytes, self._clock = min_bytes, clock
        self._candidates: dict[str, _Candidate] = {}
        self._schedule: list[tuple[float, str]] = []  # a heap of (due, path); stale ones too
        self._tails: dict[str, _Tail] = {}
        self._failed: set[str] = set()
        self._buffer = _ReadBuffer()
        if threads is None:
            threads = min(_MAX_POOL_THREADS, len(os.sched_getaffinity(0)))
        self._threads = threads
        # Files the job got already open from roar (`roar run cmd > out.bin`): written
        # through descriptors the tracer never saw opened, so never tailed.
        self._inherited: set[Inode] = set()
        for fd in inherited:
            with contextlib.suppress(OSError):
                st = os.fstat(fd)
                self._inherited.add((st.st_dev, st.st_ino))

    @property
    def tailing(self) -> bool:
        """Whether a file is being tailed (the caller then comes back within milliseconds)."""
        return bool(self._tails)

    def next_look_s(self) -> float | None:
        """Seconds until an output is due to be looked at (None: none is watched)."""
        while self._schedule:
            due, path = self._schedule[0]
            candidate = self._candidates.get(path)
            if candidate is not None and candidate.due == due:
                return max(0.0, due - self._clock())
            heapq.heappop(self._schedule)  # dropped or looked at since
        return None

    def drop(self, path: str) -> None:
        """Stop following `path` (hashed some other way)."""
        self._drop(path)

    def offer(self, fresh: Sequence[tuple[str, Before]]) -> None:
        """Paths opened by emptying or creating opens, each with the file it named
        before its open ran (see the module's docstring)."""
        now = self._clock()
        for path, before in fresh:
            if path in self._tails or path in self._candidates or path in self._failed:
                self._failed.add(path)  # opened for writing again: no proof can hold
                self._drop(path)
                continue
            if len(self._candidates) < _MAX_CANDIDATES:
                self._watch(path, _Candidate(now, _FIRST_LOOK_S / _BACK_OFF, now, before))

    def work(self) -> bool:
        """Look at what is due and hash what the tails can; True when a tail moved on (the
        caller then comes back at once: the tail may be behind)."""
        now = self._clock()
        progressed = False
        while self._schedule and self._schedule[0][0] <= now:
            due, path = heapq.heappop(self._schedule)
            candidate = self._candidates.get(path)
            if candidate is not None and candidate.due == due:
                self._look(path, now, candidate)
        for path, tail in list(self._tails.items()):
            try:
                progressed = tail.advance(self._buffer) or progressed
            except OSError:
                self._failed.add(path)
                self._drop(path)
        return progressed

    def finish(self) -> list[TailDigest]:
        """Hash the rest of every tail (the job has ended) and close them."""
        self._candidates.clear()
        self._schedule.clear()
        digests = []
        for path, tail in list(self._tails.items()):
            try:
                tail.at_full_speed()
                before = os.fstat(tail.fd)
                tail.advance(self._buffer, until_end=True)
                after = os.fstat(tail.fd)
            except OSError:
                continue
            finally:
                tail.close()
            if stat_key(before) == stat_key(after) and tail.done == after.st_size:
                digests.append(TailDigest(path, tail.inode, after, str(tail.hasher.hexdigest())))
        self._tails.clear()
        return digests

    def close(self) -> None:
        for tail in self._tails.values():
            tail.close()
        self._tails.clear()
        self._candidates.clear()
        self._schedule.clear()

    def _watch(self, path: str, candidate: _Candidate) -> None:
        """Look at `path` at `candidate.due`; `candidate.wait` * _BACK_OFF after that if
        it is not tailed then."""
        self._candidates[path] = candidate._replace(wait=candidate.wait * _BACK_OFF)
        heapq.heappush(self._schedule, (candidate.due, path))

    def _look(self, path: str, now: float, candidate: _Candidate) -> None:
        try:
            st = os.stat(path)
        except OSError:  # not made yet, or renamed away or deleted: the end decides
            self._look_again(path, now, candidate, candidate.wait)
            return
        if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) in self._inherited:
            del self._candidates[path]
            return
        if st.st_size < self._min_bytes or len(self._tails) >= _MAX_TAILS:
            self._look_again(path, now, candidate, candidate.wait)
            return
        if not _changed_since(st, candidate.before):  # the open has not run yet
            soon = now - candidate.since < _UNCHANGED_FOR_S
            self._look_again(path, now, candidate, _UNCHANGED_LOOK_S if soon else candidate.wait)
            return
        del self._candidates[path]
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return
        opened = os.fstat(fd)
        if (opened.st_dev, opened.st_ino) != (st.st_dev, st.st_ino):
            os.close(fd)  # replaced between the two looks: the end decides
            return
        pooled = sum(tail.threads > 1 for tail in self._tails.values())
        threads = self._threads if pooled < _POOLED_TAILS else 1
        self._tails[path] = _Tail(path, fd, (st.st_dev, st.st_ino), threads)

    def _look_again(self, path: str, now: float, candidate: _Candidate, wait: float) -> None:
        """In `wait` seconds, or never once the output was watched for _GIVE_UP_S."""
        if now - candidate.since > _GIVE_UP_S:
            del self._candidates[path]
        else:
            self._watch(path, candidate._replace(due=now + wait))

    def _drop(self, path: str) -> None:
        self._candidates.pop(path, None)
        tail = self._tails.pop(path, None)
        if tail is not None:
            tail.close()


def _changed_since(st: os.stat_result, before: Before) -> bool:
    """Whether `st` is not the file `before` as it was (a file made since, or changed)."""
    if before is None:
        return True
    dev, ino, ctime_ns = before
    return (st.st_dev, st.st_ino) != (dev, ino) or st.st_ctime_ns != ctime_ns


def proven_entries(
    tails: Sequence[TailDigest],
    facts: RewriteFacts | None,
    stats: Mapping[str, os.stat_result],
) -> dict[str, HashCacheEntry]:
    """Hash-cache entries, for the recorded files in `stats` (path -> the classifier's
    stat), that a tail hashed and the tracer's `facts` prove (see the module's docstring).
    A file renamed into place after it was written is found by its inode."""
    if facts is None or facts.everything or not tails:
        return {}
    proven: dict[Inode, TailDigest] = {}
    for tail in tails:
        names = facts.write_names.get(tail.inode, ())
        if (
            tail.inode not in facts.rewritten
            and facts.write_opens.get(tail.path, 0) == 1
            and tail.path in facts.fresh
            and all(name == tail.path for name in names)
        ):
            proven[tail.inode] = tail
    entries = {}
    for path, st in stats.items():
        found = proven.get((st.st_dev, st.st_ino))
        if found is not None and stat_key(st) == stat_key(found.st):
            entries[path] = HashCacheEntry.of(path, st, found.hash)
    return entries
