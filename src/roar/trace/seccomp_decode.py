"""What the seccomp tracer's stops mean: path states folded from each call, in order.

The C loop (or the Python one) reads each stopped call's path and flags; this turns them
into the access log the classifier reads (keyed by the bytes the process used until the
run ends, then by name with directories resolved), the facts a tail hasher's proof needs,
and the opens a running job tells as it goes. Nothing here touches the kernel, except
reading a stopped process's memory for the Python loop (seccomp_kernel, loaded only there).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Sequence

from roar.trace.model import AccessLog, Before, Inode, PathState, RewriteFacts
from roar.trace.seccomp_filter import (
    NOT_A_FILE_FLAGS,
    Arch,
    SyscallSpec,
    decoder_specs,
    tail_calls,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from roar.trace.seccomp_kernel import Notification, ProcessMemory

__all__ = ["ANY_FILE", "Decoder", "Fresh"]

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_O_ACCMODE = 3
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_CREATE_ANEW = os.O_CREAT | os.O_EXCL
# The filter lets these opens pass in the kernel; the decoder ignores them too, so a
# filter built another way can never turn a directory into a recorded file.
_NOT_A_FILE = NOT_A_FILE_FLAGS


# One record of the C loop: nr, path length, old path length, padding, flags, and the
# device, inode and ctime of the file a change concerns (_supervisor.c, "Rewrites"; for a
# rename, its source's: identify_source); then bytes.
_RECORD = struct.Struct("=iIIIQQQQ")
ANY_FILE = (1 << 64) - 1
#: A path opened by an emptying or creating open, and the file it named before (see
#: trace/base.Opened).
Fresh = tuple[bytes, Before]


def _signed32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


class Decoder:
    """Turns stopped syscalls into path states, keyed by the bytes the process used.

    This runs while a traced process waits, once per open, so it keeps to bytes and
    dictionaries; decoding, joining and resolving names happen once per distinct path in
    `access_log()`, after the run.
    """

    def __init__(self, arch: Arch, *, tails: bool = False) -> None:
        """`tails`: the C loop reports what a tail hasher needs (see rewrite_facts)."""
        self._memory: ProcessMemory | None = None
        self.paths: dict[bytes, PathState] = {}
        self.by_number: dict[int, SyscallSpec] = decoder_specs(arch)
        self.tail_calls: dict[int, int | None] = tail_calls(arch) if tails else {}
        self.tails = tails
        # for rewrite_facts: (path, fresh, device, inode) of each call that could change a
        # file by name, the files a call may have written behind their end, and whether
        # one may have written any file
        self._changes: list[tuple[bytes, bool, int, int]] = []
        self._rewritten: set[tuple[int, int]] = set()
        self._everything = False
        # name -> the renames and hard links onto it since the job last wrote it, in
        # order: (event, the name the content moved there had before the job, None for
        # the job's own, the source's (device, inode) at the stop, None where not known,
        # and its ctime then, 0 where not known).
        # Which of them happened is told at the end (access_log): the loop cannot see a
        # call fail, and `mv f dir/` first tries a rename onto `dir/` that does.
        self._moves: dict[bytes, list[tuple[int, bytes | None, Inode | None, int]]] = {}
        self._wrote: set[bytes] = set()  # names whose content the job changed in place
        self._events = 0

    @property
    def memory(self) -> ProcessMemory:
        """Reads a stopped process's memory (the Python loop; the C loop reads its own)."""
        if self._memory is None:
            from roar.trace.seccomp_kernel import ProcessMemory

            self._memory = ProcessMemory()
        return self._memory

    def _path(self, pid: int, args: Sequence[int], index: int, dirfd: int | None) -> bytes | None:
        raw = self.memory.read_c_string(pid, args[index])
        if raw is None or raw[:1] == b"/":
            return raw
        fd = _AT_FDCWD if dirfd is None else _signed32(args[dirfd])
        link = b"/proc/%d/cwd" % pid if fd == _AT_FDCWD else b"/proc/%d/fd/%d" % (pid, fd)
        try:
            base = os.readlink(link)
        except OSError:
            return None  # the process or its descriptor is gone
        return base + b"/" + raw if raw else base

    def _state(self, path: bytes) -> PathState:
        """The state of `path`, stamped with the call heard now (PathState.last)."""
        state = self.paths.get(path)
        if state is None:
            state = self.paths[path] = PathState()
        self._events += 1
        state.last = self._events
        return state

    def apply(self, note: Notification) -> None:
        """Decode a stopped call while its process waits (the Python loop)."""
        spec = self.by_number.get(note.nr)
        if spec is None:
            return
        pid, args = note.pid, note.args
        path = self._path(pid, args, spec.path, spec.dirfd)
        if path is None:
            return
        flags = args[spec.flags] if spec.flags is not None else 0
        if spec.kind == "openat2":
            raw = self.memory.read_bytes(pid, args[2], 8)  # struct open_how starts with flags
            if raw is None or len(raw) != 8:
                return
            flags = int.from_bytes(raw, "little")
        old = source = None
        source_ctime = 0
        if spec.old_path is not None:  # a rename's or a hard link's source
            old = self._path(pid, args, spec.old_path, spec.old_dirfd)
            if old is not None and spec.kind == "rename":
                try:  # as the C loop's identify_source
                    st = os.lstat(old)
                    source, source_ctime = (st.st_dev, st.st_ino), st.st_ctime_ns
                except OSError:
                    pass
        self.record(spec, path, flags, old, source, source_ctime)

    def apply_records(self, records: bytes) -> None:
        """Decode what the C loop read while the processes waited (see _supervisor.c)."""
        unpack, size, by_number = _RECORD.unpack_from, _RECORD.size, self.by_number
        tail_calls, changes = self.tail_calls, self._changes
        offset, end = 0, len(records)
        while offset < end:
            nr, path_length, old_length, _pad, flags, dev, ino, ctime = unpack(records, offset)
            offset += size
            path = records[offset : offset + path_length]
            offset += path_length
            old = records[offset : offset + old_length] if old_length else None
            offset += old_length
            if ino == ANY_FILE:
                self._everything = True
            if nr in tail_calls:
                self._rewritten.add((dev, ino))
                continue
            if not path_length:
                continue  # only the note above: a change nobody could name
            spec = by_number[nr]
            self.record(spec, path, flags, old, (dev, ino) if ino and old else None, ctime)
            if tail_calls and (fresh := _changes_by_name(spec, flags)) is not None:
                changes.append((path, fresh, dev, ino))

    def opens(self, records: bytes) -> tuple[list[bytes], list[bytes], list[Fresh]]:
        """The paths in `records` (the C loop's) opened for reading only; those opened
        for writing or renamed, linked, created or truncated into place; and of those,
        the ones opened by a call that emptied or created them (for a tail hasher), with
        the file each named before the call. One whose file cannot be told is left out:
        no tail of it could be proven."""
        unpack, size, by_number = _RECORD.unpack_from, _RECORD.size, self.by_number
        reads: list[bytes] = []
        writes: list[bytes] = []
        fresh: list[Fresh] = []
        offset, end = 0, len(records)
        while offset < end:
            nr, path_length, old_length, _pad, flags, dev, ino, ctime = unpack(records, offset)
            offset += size
            path = records[offset : offset + path_length]
            spec = by_number.get(nr)
            if spec is None or not path_length:  # a rewrite note (see apply_records)
                offset += path_length + old_length
                continue
            kind = spec.kind
            if self.tails and ino != ANY_FILE and _changes_by_name(spec, flags):
                fresh.append((path, (dev, ino, ctime) if ino else None))
            if kind in ("open", "openat2"):
                if flags & _NOT_A_FILE:
                    pass
                elif flags & _O_ACCMODE == os.O_RDONLY and not flags & _WRITE_FLAGS:
                    reads.append(path)
                else:
                    writes.append(path)
            elif kind != "exec":
                writes.append(path)
                if old_length and flags & _RENAME_EXCHANGE:  # the other name of an exchange
                    writes.append(records[offset + path_length : offset + path_length + old_length])
            offset += path_length + old_length
        return reads, writes, fresh

    def record(
        self,
        spec: SyscallSpec,
        path: bytes,
        flags: int,
        old: bytes | None,
        source: Inode | None = None,
        source_ctime: int = 0,
    ) -> None:
        """What a call on `path` means; `old` is a rename's or a hard link's source (for
        an exchanging rename, the other name), `source` the file a rename's source named
        at the stop, `source_ctime` its ctime then (0: not known)."""
        kind = spec.kind
        if kind in ("open", "openat2"):
            self._opened(path, flags)
        elif kind in ("creat", "truncate"):
            self._changed(path)
        elif kind == "link":  # a hard link shares its source's content; a symlink has none
            if old is None:
                self._changed(path)
            else:
                self._moved(path, self._origin(old, None), None, 0)
        elif kind == "exec":
            self._state(path).executed = True
        elif kind == "rename":
            self._renamed(path, flags, old, source, source_ctime)

    def _renamed(
        self, path: bytes, flags: int, old: bytes | None, source: Inode | None, source_ctime: int
    ) -> None:
        """A rename of `old` (None: a name that could not be read) to `path`. The source
        needs no note of its own: whether it still exists at the end decides."""
        path = path.rstrip(b"/") or path  # `mv a b/`: the directory's own name
        if old is None:
            self._changed(path)
            return
        old = old.rstrip(b"/") or old
        if flags & _RENAME_EXCHANGE:
            old_origin, path_origin = self._origin(old, None), self._origin(path, None)
            self._moved(old, path_origin, None, 0)
            self._moved(path, old_origin, None, 0)
        else:
            self._moved(path, self._origin(old, source), source, source_ctime)

    def _origin(self, name: bytes, now: Inode | None) -> bytes | None:
        """model.origin_of for a name as the process used it, which names the file `now`
        (None: not known): the newest move onto it that brought that file, else its own
        content unless the job wrote it."""
        for _event, origin, source, _ctime in reversed(self._moves.get(name, ())):
            if source is None or now is None or source == now:
                return origin
        return None if name in self._wrote else name

    def _moved(
        self, path: bytes, origin: bytes | None, source: Inode | None, source_ctime: int
    ) -> None:
        """Content arrived at `path` by a rename or link (if the call did not fail)."""
        self._state(path).write_intent = True
        self._moves.setdefault(path, []).append((self._events, origin, source, source_ctime))

    def _changed(self, path: bytes) -> None:
        """The job changed `path`'s content in place, or made it."""
        self._state(path).write_intent = True
        self._wrote.add(path)
        if self._moves:
            self._moves.pop(path, None)

    def _opened(self, path: bytes, flags: int) -> None:
        if flags & _NOT_A_FILE:
            return
        state = self._state(path)
        if flags & _O_ACCMODE != os.O_WRONLY:
            state.read = True
        if flags & _WRITE_FLAGS:
            state.write_intent = True
            self._wrote.add(path)
            if self._moves:
                self._moves.pop(path, None)

    def access_log(self) -> AccessLog:
        """The paths under the names the kernel gives them: directories resolved.

        Processes name files through symlinked directories and `..`; strace reports the
        resolved name, so this does too. The file name itself is kept: a symlinked file is
        recorded where the job looked, and the classifier follows it.
        """
        log = AccessLog()
        paths = log.paths
        resolve = self._resolver()
        for path, state in self.paths.items():
            key = resolve(path)
            if key is None:
                continue  # a directory, never a file roar records
            if key in paths:
                log.merge(key, state)
            else:
                paths[key] = state
        for path, moves in self._moves.items():
            key = resolve(path)
            if key is None:
                continue
            try:
                st = os.lstat(key)  # the resolved name: a directory on the way may be gone
            except OSError:
                continue  # gone: nothing to tell
            found = (st.st_dev, st.st_ino)
            for event, origin, source, source_ctime in reversed(moves):
                if source is None or source == found:  # the newest move that happened
                    state = paths[key]
                    state.moved_at = max(state.moved_at, event)
                    origin_key = None if origin is None else resolve(origin)
                    if origin_key != key:
                        state.origin = origin_key
                        state.moved_ctime = source_ctime
                    break
        return log

    def rewrite_facts(self) -> RewriteFacts | None:
        """What a tail hasher's proof needs (run/tail.py), with paths named as in
        access_log(); None when the C loop was not asked to report it."""
        if not self.tails:
            return None
        facts = RewriteFacts()
        facts.everything, facts.rewritten = self._everything, set(self._rewritten)
        resolve = self._resolver()
        for raw, fresh, dev, ino in self._changes:
            path = resolve(raw)
            if path is None:
                continue
            facts.write_opens[path] = facts.write_opens.get(path, 0) + 1
            if fresh:
                facts.fresh.add(path)
            if ino:  # the file existed before the call
                facts.write_names.setdefault((dev, ino), set()).add(path)
        return facts

    @staticmethod
    def _resolver() -> Callable[[bytes], str | None]:
        """path -> its name with the directories resolved (None for a directory); each
        directory is resolved once."""
        resolved_dirs: dict[bytes, bytes] = {}
        realpath = os.path.realpath

        def resolve(path: bytes) -> str | None:
            directory, _slash, name = path.rpartition(b"/")
            if name in (b"", b".", b".."):
                return None
            real = resolved_dirs.get(directory)
            if real is None:
                real = resolved_dirs[directory] = realpath(directory or b"/").rstrip(b"/")
            return os.fsdecode(real + b"/" + name)

        return resolve


def _changes_by_name(spec: SyscallSpec, flags: int) -> bool | None:
    """Whether a call could change the file its path names (an open for writing, creat,
    truncate, link): None if not, else whether it empties or creates the file first."""
    kind = spec.kind
    if kind in ("open", "openat2"):
        if flags & _NOT_A_FILE or not flags & _WRITE_FLAGS:
            return None
        return bool(flags & os.O_TRUNC) or flags & _CREATE_ANEW == _CREATE_ANEW
    if kind == "creat":
        return True
    if kind in ("truncate", "link"):
        return False
    return None
