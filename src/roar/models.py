"""Plain immutable records that flow between roar's layers (no database code here)."""

from __future__ import annotations

import os
from collections.abc import Container, Mapping
from types import MappingProxyType

from roar.named_tuple import NamedTuple

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Any, Literal

    # Names for type checkers only (annotations are not evaluated at run time): typing
    # costs every `roar run` 4-5 ms to import.
    ArtifactKind = Literal["file", "dir", "blob", "collection"]
    JobKind = Literal["run", "build", "task", "reproduce"]
    TraceCoverage = Literal["full", "reduced", "none"]

__all__ = [
    "Artifact",
    "Collection",
    "FileRef",
    "Flag",
    "HashCacheEntry",
    "Job",
    "JobSpec",
    "Tag",
    "VALUE_PATH_PREFIX",
    "MOVED_DIRECTORIES",
    "MOVED_INPUTS",
    "enclosing",
    "is_value_path",
    "moved_to",
    "stat_key",
]

#: Jobs record values a task returned or was passed (stored in .roar/objects, not on disk)
#: at paths like `task:split_data/out/0`; a file's path never starts with this.
VALUE_PATH_PREFIX = "task:"

#: The default of a record's mapping fields: one shared, read-only empty mapping.
EMPTY: Mapping[str, Any] = MappingProxyType({})


# The records are NamedTuples, not dataclasses: every `roar run` builds these classes at
# start-up, and on a slow CPU a dataclass costs 1.5-3 ms to build (the `dataclasses`
# module itself 15-20 ms more), a NamedTuple 0.1-0.2 ms (roar.named_tuple: typing's, less
# its per-field checks). Fields are read by name everywhere.


class Artifact(NamedTuple):
    """Content identified by its BLAKE3 hex digest."""

    hash: str
    size: int
    kind: ArtifactKind = "file"
    created_at: float = 0.0
    meta: Mapping[str, Any] = EMPTY


class FileRef(NamedTuple):
    """An artifact seen at a path by a job (as input or output)."""

    path: str
    artifact: Artifact


class JobSpec(NamedTuple):
    """Everything recorded about one job, before the store gives it an id. Build it with
    keywords: the field order is not part of the interface."""

    kind: JobKind = "run"
    step: str = ""
    command: tuple[str, ...] = ()
    cwd: str = ""
    started_at: float = 0.0
    ended_at: float | None = None
    exit_code: int | None = None
    git_commit: str | None = None
    git_branch: str | None = None
    git_dirty: bool | None = None
    git_remote: str | None = None
    patch_hash: str | None = None
    env: Mapping[str, Any] = EMPTY
    host: Mapping[str, Any] = EMPTY
    trace_coverage: TraceCoverage = "none"
    parent_job: int | None = None
    reproduces_job: int | None = None
    owner: str | None = None
    notes: str | None = None


class Job(NamedTuple):
    """A recorded job: `id` is its number (`@N`), `uid` its short hex name; every other
    field is JobSpec's, with the same defaults (a test keeps the two in step)."""

    id: int
    uid: str
    kind: JobKind = "run"
    step: str = ""
    command: tuple[str, ...] = ()
    cwd: str = ""
    started_at: float = 0.0
    ended_at: float | None = None
    exit_code: int | None = None
    git_commit: str | None = None
    git_branch: str | None = None
    git_dirty: bool | None = None
    git_remote: str | None = None
    patch_hash: str | None = None
    env: Mapping[str, Any] = EMPTY
    host: Mapping[str, Any] = EMPTY
    trace_coverage: TraceCoverage = "none"
    parent_job: int | None = None
    reproduces_job: int | None = None
    owner: str | None = None
    notes: str | None = None


class Collection(NamedTuple):
    name: str
    kind: str
    members: tuple[FileRef, ...] = ()


class Tag(NamedTuple):
    target: str
    name: str


class Flag(NamedTuple):
    artifact_hash: str
    flagged_at: float
    note: str | None = None


class HashCacheEntry(NamedTuple):
    """What a path looked like when it was hashed; any change of these means re-hash.

    ctime is part of the key because no user tool can set it: `cp -p`, `touch -r` and
    rsync restore mtime and size, but the kernel still moves ctime. A named tuple, not a
    dataclass: a run looks up thousands at a time, and a tuple is built several times
    faster.
    """

    path: str
    dev: int
    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int
    hash: str

    @classmethod
    def of(cls, path: str, st: os.stat_result, digest: str) -> HashCacheEntry:
        """The entry for `digest` of the file at `path` as `st` saw it."""
        return cls(path, *stat_key(st), digest)

    def matches(self, st: os.stat_result) -> bool:
        """Whether `st` shows the file exactly as it was when this entry was made."""
        return stat_key(st) == (self.dev, self.inode, self.size, self.mtime_ns, self.ctime_ns)


def stat_key(st: os.stat_result) -> tuple[int, int, int, int, int]:
    """What identifies a file's content for the hash cache: device, inode, size, mtime
    and ctime (see HashCacheEntry)."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def is_value_path(path: str) -> bool:
    """True for a task's stored value, which lives in .roar/objects rather than at a path."""
    return path.startswith(VALUE_PATH_PREFIX)


#: Keys of a job's env for the inputs it renamed away (run/recording.py), which are then
#: missing by its own doing: file -> its new path, and whole directories moved.
MOVED_INPUTS = "moved_inputs"
MOVED_DIRECTORIES = "moved_directories"


def moved_to(env: Mapping[str, Any], path: str) -> str | None:
    """Where the job whose env this is renamed its input `path`; None if it did not."""
    files = env.get(MOVED_INPUTS) or {}
    if path in files:
        return str(files[path])
    directories = env.get(MOVED_DIRECTORIES) or {}
    directory = enclosing(path, directories) if directories else None
    if directory is None:
        return None
    return str(directories[directory]) + path[len(directory) :]


def enclosing(path: str, directories: Container[str]) -> str | None:
    """The deepest of `directories` that holds `path`, found by looking up each of its
    parents (so thousands of directories cost no more than a few)."""
    directory = path
    while True:
        directory, slash, _name = directory.rpartition("/")
        if not slash or not directory:
            return None
        if directory in directories:
            return directory
