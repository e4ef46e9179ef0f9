"""The paths git tracks, read from the work tree's index file without running git.

A job that reads a file of its repository asks which files git tracks: those are the
recorded commit's, not the job's inputs. `git ls-files` answered that in a process of its
own, with `subprocess` loaded to start it, after the command had ended: 5-12 ms of every
such `roar run`. The index is one binary file (its format: git's gitformat-index), and
the paths of a project's few hundred files are read from it here in a fraction of that.

The reader answers only where it is sure, and None everywhere else, where git is asked as
before: GIT_DIR, GIT_WORK_TREE or GIT_INDEX_FILE set, a version other than 2-4, an index
bigger than `MAX_INDEX_BYTES` (git lists a big one faster than Python can), a checksum
or a structure that does not add up (a torn or damaged file, which git then lists as it
always did: it does not check the checksum itself), an entry that is a directory (a
sparse index), or an extension git marks as required (a split index, or one newer than
this reader).
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["MAX_INDEX_BYTES", "git_dir", "index_path", "read_tracked_paths"]

#: Above this the index is left to git (about 2,000 files): there a git process costs less
#: than checking the file's SHA-1 and reading its entries in Python (1-2 us each).
MAX_INDEX_BYTES = 256 << 10
_SIGNATURE = b"DIRC"
_SHA1_BYTES = 20
#: ctime, mtime (seconds and nanoseconds), dev, ino, mode, uid, gid, size: 32 bits each.
_STAT_BYTES = 40
#: The byte of the 32-bit mode that holds the file type (S_IFMT's 4 bits), and a directory's.
_MODE_TYPE_AT = 26
_DIRECTORY_TYPE = 0x40
_FLAGS_AT = _STAT_BYTES + _SHA1_BYTES
_EXTENDED = 0x4000
_NAME_MASK = 0xFFF
#: Variables that make git read another repository or index than the work tree's own.
_REDIRECTS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR")


def git_dir(root: str) -> str | None:
    """The git directory of the work tree at `root`: `.git`, or the directory a `.git` file
    names (linked work trees, submodules: `gitdir: PATH`, relative to `root` or absolute);
    None when `.git` is neither."""
    dot_git = os.path.join(root, ".git")
    if os.path.isdir(dot_git):
        return dot_git
    try:
        with open(dot_git, "rb") as handle:
            line = handle.read(4096).splitlines()[0]
    except (OSError, IndexError):
        return None
    if not line.startswith(b"gitdir: "):
        return None
    return os.path.join(root, os.fsdecode(line[len(b"gitdir: ") :].strip()))


def index_path(root: str) -> str | None:
    """The index file of the work tree at `root` (None if its git directory is unknown)."""
    found = git_dir(root)
    return None if found is None else os.path.join(found, "index")


def read_tracked_paths(root: str, environ: Mapping[str, str]) -> list[bytes] | None:
    """The paths (relative to `root`, as `git ls-files -z --full-name` gives them) of every
    entry in the index of the work tree at `root`, or None where git must be asked (see
    the module's docstring). No index file at all is no tracked file."""
    if any(environ.get(name) for name in _REDIRECTS):
        return None
    path = index_path(root)
    if path is None:
        return None
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_INDEX_BYTES + 1)
    except FileNotFoundError:
        return [] if os.path.isdir(os.path.dirname(path)) else None
    except OSError:
        return None
    if len(data) > MAX_INDEX_BYTES or not _checksum_matches(data):
        return None
    return _entries(data, len(data) - _SHA1_BYTES)


def _checksum_matches(data: bytes) -> bool:
    """Whether the trailing SHA-1 is that of the rest (all zeros: git skipped it)."""
    if len(data) < 12 + _SHA1_BYTES:
        return False
    body, trailer = data[:-_SHA1_BYTES], data[-_SHA1_BYTES:]
    if trailer == bytes(_SHA1_BYTES):  # index.skipHash: the structure is checked alone
        return True
    return _sha1(body) == trailer


def _sha1(data: bytes) -> bytes:
    """The SHA-1 of `data`: CPython's own, without hashlib's OpenSSL (4-5 ms to load)."""
    try:
        from _sha1 import sha1  # type: ignore[import-not-found]
    except ImportError:  # pragma: no cover - a Python built without its own hashes
        from hashlib import sha1
    digest: bytes = sha1(data).digest()
    return digest


def _entries(data: bytes, limit: int) -> list[bytes] | None:
    """The entries' paths from `data[:limit]` (the index without its trailer); None if any
    part of it is not what this reader knows (the file is not read as what it is not)."""
    if data[:4] != _SIGNATURE:
        return None
    version = int.from_bytes(data[4:8], "big")
    count = int.from_bytes(data[8:12], "big")
    if version not in (2, 3, 4):
        return None
    paths: list[bytes] = []
    previous = b""
    position = 12
    try:
        # Bytes read one by one, not int.from_bytes of slices: this loop runs per file.
        for _ in range(count):
            if position + _FLAGS_AT + 2 > limit:
                return None
            if data[position + _MODE_TYPE_AT] & 0xF0 == _DIRECTORY_TYPE:  # a sparse index's
                return None
            flags = data[position + _FLAGS_AT] << 8 | data[position + _FLAGS_AT + 1]
            name_at = position + _FLAGS_AT + (4 if flags & _EXTENDED else 2)
            if version == 4:
                strip, name_at = _varint(data, name_at)
                end = data.index(0, name_at, limit)
                if strip > len(previous):
                    return None
                previous = previous[: len(previous) - strip] + data[name_at:end]
                paths.append(previous)
                position = end + 1
            else:
                length = flags & _NAME_MASK
                if length == _NAME_MASK:  # 4095 bytes or more: the NUL ends it
                    end = data.index(0, name_at + length, limit)
                else:
                    end = name_at + length
                    if end >= limit or data[end] != 0:
                        return None
                paths.append(data[name_at:end])
                # padded with 1-8 NULs to a multiple of 8 bytes from the entry's start
                position += (end - position + 8) & ~7
    except (IndexError, ValueError):
        return None
    return paths if _extensions_are_optional(data, position, limit) else None


def _varint(data: bytes, at: int) -> tuple[int, int]:
    """git's offset encoding (each continuation adds one before shifting): the value and
    where the bytes after it start."""
    byte = data[at]
    value = byte & 0x7F
    while byte & 0x80:
        at += 1
        byte = data[at]
        value = ((value + 1) << 7) | (byte & 0x7F)
    return value, at + 1


def _extensions_are_optional(data: bytes, position: int, limit: int) -> bool:
    """Whether the extensions after the entries fill the rest up to `limit` exactly and
    none is one git requires a reader to understand (a signature that starts with an
    upper-case letter is optional: the cache tree, the resolve-undo data...)."""
    while position < limit:
        if position + 8 > limit:
            return False
        signature = data[position : position + 4]
        size = int.from_bytes(data[position + 4 : position + 8], "big")
        if not 0x41 <= signature[0] <= 0x5A:  # "link" (split index), "sdir" (sparse)...
            return False
        position += 8 + size
    return position == limit
