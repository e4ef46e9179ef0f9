"""What a traced command did to each path, folded from syscalls in order (pure).

Memory stays bounded by the number of distinct paths, whatever the number of syscalls.
"""

from __future__ import annotations

__all__ = ["AccessLog", "Before", "Inode", "PathState", "origin_of"]


class PathState:
    __slots__ = (
        "deleted",
        "executed",
        "last",
        "moved_at",
        "moved_ctime",
        "origin",
        "read",
        "write_intent",
    )

    def __init__(self) -> None:
        self.read = False  # opened for reading (O_RDONLY or O_RDWR)
        self.write_intent = False  # opened for writing, created, renamed or linked into place
        self.executed = False
        self.deleted = False  # gone at the end as far as the trace knows
        # The path whose content from before the job this path holds, moved here by a
        # rename (or shared by a hard link) and written by nothing since (the job's input
        # under that name, see origin_of); classify checks at the end that the content is
        # indeed that old.
        self.origin: str | None = None
        # The ctime the file renamed here from `origin` had just before that rename (0: not
        # known; the seccomp tracer tells it): the one the hash cache knows it by under
        # `origin`, since the rename gives the file a new one.
        self.moved_ctime = 0
        # When the trace last heard of the path, and when content last arrived there by a
        # rename or link (0: never), in events of the whole job (the log's count): whether
        # a file was heard of before or after its directory was renamed there (classify).
        self.last = 0
        self.moved_at = 0

    def __repr__(self) -> str:
        flags = ("read", "write_intent", "executed", "deleted")
        shown = [f for f in flags if getattr(self, f)]
        if self.origin is not None:
            shown.append(f"origin={self.origin!r}")
        return f"PathState({', '.join(shown)})"


def origin_of(state: PathState | None, path: str) -> str | None:
    """The path of the content from before the job that `path` holds now, as far as the
    trace knows: its own, unless the job wrote it; the one it was renamed from, if that
    was moved here untouched; None for content the job made."""
    if state is None:
        return path
    if state.origin is not None:
        return state.origin
    return None if state.write_intent else path


def _bare(path: str) -> str:
    """A directory's name without the trailing slash a rename may give it (`mv a b/`)."""
    return path.rstrip("/") or path


class AccessLog:
    def __init__(self) -> None:
        self.paths: dict[str, PathState] = {}
        self.events = 0  # calls heard so far, in order (PathState.last)

    def _state(self, path: str) -> PathState:
        state = self.paths.get(path)
        if state is None:
            state = self.paths[path] = PathState()
        return state

    def _event(self, path: str) -> PathState:
        """The state of `path`, stamped with the call heard now."""
        state = self._state(path)
        self.events += 1
        state.last = self.events
        return state

    def read(self, path: str) -> None:
        self._event(path).read = True

    def write(self, path: str) -> None:
        state = self._event(path)
        state.write_intent, state.deleted, state.origin = True, False, None

    def execute(self, path: str) -> None:
        self._event(path).executed = True

    def remove(self, path: str) -> None:
        if path in self.paths:
            self._event(path).deleted = True

    def rename(self, source: str, target: str) -> None:
        """`mv source target`: the content now lives at target, a new file of the job;
        content from before the job keeps the name it had then (its origin)."""
        source, target = _bare(source), _bare(target)
        origin = origin_of(self.paths.get(source), source)
        self.remove(source)
        self._moved(target, origin)

    def exchange(self, first: str, second: str) -> None:
        """renameat2(RENAME_EXCHANGE): each path holds the other's content."""
        first, second = _bare(first), _bare(second)
        first_origin = origin_of(self.paths.get(first), first)
        second_origin = origin_of(self.paths.get(second), second)
        self._moved(first, second_origin)
        self._moved(second, first_origin)

    def link(self, target: str, source: str | None = None) -> None:
        """A hard link from `source` (its content, from before the job if the job did not
        write it), or a symlink (no source: the name is new)."""
        origin = None if source is None else origin_of(self.paths.get(source), source)
        self._moved(target, origin)

    def _moved(self, target: str, origin: str | None) -> None:
        """Content arrived at `target` by a rename or link: from before the job under the
        name `origin`, or the job's own (None)."""
        self.write(target)
        state = self.paths[target]
        state.origin, state.moved_at = origin, state.last

    def merge(self, path: str, other: PathState) -> None:
        """Fold what another name of the same file saw into `path`."""
        state = self._state(path)
        state.read |= other.read
        state.write_intent |= other.write_intent
        state.executed |= other.executed
        state.deleted = state.deleted and other.deleted
        if state.origin is None:
            state.origin, state.moved_ctime = other.origin, other.moved_ctime
        state.last = max(state.last, other.last)
        state.moved_at = max(state.moved_at, other.moved_at)


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
