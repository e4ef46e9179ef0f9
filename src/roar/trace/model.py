"""What a traced command did to each path, folded from syscalls in order (pure).

Memory stays bounded by the number of distinct paths, whatever the number of syscalls.
"""

from __future__ import annotations

__all__ = ["AccessLog", "Before", "PathState"]


class PathState:
    __slots__ = ("deleted", "executed", "read", "write_intent")

    def __init__(self) -> None:
        self.read = False  # opened for reading (O_RDONLY or O_RDWR)
        self.write_intent = False  # opened for writing, created, renamed or linked into place
        self.executed = False
        self.deleted = False  # gone at the end as far as the trace knows

    def __repr__(self) -> str:
        flags = ("read", "write_intent", "executed", "deleted")
        return f"PathState({', '.join(f for f in flags if getattr(self, f))})"


class AccessLog:
    def __init__(self) -> None:
        self.paths: dict[str, PathState] = {}

    def _state(self, path: str) -> PathState:
        state = self.paths.get(path)
        if state is None:
            state = self.paths[path] = PathState()
        return state

    def read(self, path: str) -> None:
        self._state(path).read = True

    def write(self, path: str) -> None:
        state = self._state(path)
        state.write_intent, state.deleted = True, False

    def execute(self, path: str) -> None:
        self._state(path).executed = True

    def remove(self, path: str) -> None:
        if path in self.paths:
            self.paths[path].deleted = True

    def rename(self, source: str, target: str) -> None:
        """`mv source target`: the content now lives at target, a new file of the job."""
        self.remove(source)
        self.write(target)

    def exchange(self, first: str, second: str) -> None:
        """renameat2(RENAME_EXCHANGE): both paths hold new content."""
        self.write(first)
        self.write(second)

    def link(self, target: str) -> None:
        self.write(target)

    def merge(self, path: str, other: PathState) -> None:
        """Fold what another name of the same file saw into `path`."""
        state = self._state(path)
        state.read |= other.read
        state.write_intent |= other.write_intent
        state.executed |= other.executed
        state.deleted = state.deleted and other.deleted


Inode = tuple[int, int]  # (st_dev, st_ino)
#: The file an emptying or creating open's path named when the tracer heard the open, which
#: is before it ran: (st_dev, st_ino, st_ctime_ns); None when there was none.
Before = tuple[int, int, int] | None


class RewriteFacts:
    """What a tracer that stops writes behind a file's end (the seccomp C loop with
    seccomp_filter.TAIL_CALLS) saw, for run/tail.py to prove a hash taken while the file
    was written. Paths are named as in AccessLog (directories resolved)."""

    __slots__ = ("everything", "fresh", "rewritten", "write_names", "write_opens")

    def __init__(self) -> None:
        # a call may have written any file behind its end (asynchronous I/O, a name that
        # could not be read or looked up)
        self.everything = False
        # files a call may have written behind their end: offsets, seeks back, truncation,
        # preallocation, shared mappings
        self.rewritten: set[Inode] = set()
        # file -> the paths of the calls that could change it by name (an open for writing,
        # creat, truncate, link), for files that existed before the call
        self.write_names: dict[Inode, set[str]] = {}
        # path -> how many calls could change it by name
        self.write_opens: dict[str, int] = {}
        # paths opened for writing by a call that emptied or created them (O_TRUNC,
        # O_CREAT|O_EXCL, creat): every write through that descriptor lands at its end
        self.fresh: set[str] = set()
