"""Hash many paths at once: stat everything, ask the cache in one batch, hash the rest.

A cache entry is trusted only when device, inode, size, mtime_ns and ctime_ns all match.
Entries are not written for files changed within `racy_window_ns` of the stat (the same
problem git calls "racily clean"): a later write in the same timestamp tick would leave
every key field unchanged.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Mapping, Sequence

from roar.errors import HashError
from roar.hashing.digest import BIG_FILE_BYTES, hash_bytes, hash_file
from roar.hashing.tree import tree_digest
from roar.models import HashCacheEntry, stat_key
from roar.named_tuple import NamedTuple

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Literal

    from roar.hashing.cache import HashCache, ProgressSink
    from roar.hashing.tree import EntryKind

__all__ = ["RACY_WINDOW_NS", "Hasher", "PathDigest"]

#: Two seconds covers the coarsest common timestamp granularity (FAT, some NFS servers).
RACY_WINDOW_NS = 2_000_000_000
#: Small files are hashed on a thread pool only when there are this many bytes of them.
#: Below it, the files are nearly always in the page cache (a traced job has just read or
#: written them) and one thread is 2-3x faster: per file, handing work to a pool costs more
#: than reading and hashing a few kilobytes, and the threads only contend for the GIL.
POOL_MIN_BYTES = 32 << 20


class PathDigest(NamedTuple):  # a tuple: one per recorded file, built in bulk
    path: str
    hash: str
    size: int
    kind: Literal["file", "dir"]
    cached: bool


class _File:
    __slots__ = ("cached", "hash", "path", "st")

    def __init__(self, path: str, st: os.stat_result) -> None:
        self.path, self.st = path, st
        self.hash: str | None = None
        self.cached = False


class _Dir:
    __slots__ = ("children", "path")

    def __init__(self, path: str) -> None:
        self.path = path
        self.children: list[tuple[bytes, _File | _Dir | str]] = []


def _stat(path: str) -> os.stat_result:
    try:
        return os.stat(path)
    except FileNotFoundError:
        raise HashError("no such file or directory", path=path) from None
    except OSError as exc:
        raise HashError(exc.strerror or str(exc), path=path) from exc


class Hasher:
    """Content hashes for files and directories, through an optional `HashCache`."""

    def __init__(
        self,
        cache: HashCache | None = None,
        *,
        workers: int | None = None,
        progress: ProgressSink | None = None,
        clock: Callable[[], int] = time.time_ns,
        racy_window_ns: int = RACY_WINDOW_NS,
    ) -> None:
        self._cache = cache
        self._workers = workers or min(8, (os.cpu_count() or 1) * 2)
        self._progress = progress
        self._clock = clock
        self._racy_window_ns = racy_window_ns

    def hash_paths(self, paths: Sequence[str | os.PathLike[str]]) -> list[PathDigest]:
        """One digest per argument, in order; directories get their Merkle digest."""
        stat_time = self._clock()
        files: dict[str, _File] = {}
        roots = [self._collect(os.path.abspath(os.fspath(p)), files) for p in paths]
        self._fill_from_cache(files)
        self._hash_missing(files, stat_time)
        return [self._digest_of(root) for root in roots]

    def hash_stated_files(
        self, stats: Mapping[str, os.stat_result], stat_time: int
    ) -> dict[str, PathDigest]:
        """Digests of regular files the caller has just stat'ed (absolute, normalized
        paths; `stat_time` read from the clock before the stats were taken), so that a
        caller that already looked at every file (a job's classifier) does not make the
        hasher look again."""
        files = {path: _File(path, st) for path, st in stats.items()}
        self._fill_from_cache(files)
        self._hash_missing(files, stat_time)
        return {path: self._digest_of(item) for path, item in files.items()}

    # -- collecting ------------------------------------------------------------------------

    def _collect(self, path: str, files: dict[str, _File]) -> _File | _Dir:
        st = _stat(path)
        if stat.S_ISREG(st.st_mode):
            return files.setdefault(path, _File(path, st))
        if stat.S_ISDIR(st.st_mode):
            return self._walk(path, files)
        raise HashError("not a regular file or directory", path=path)

    def _walk(self, path: str, files: dict[str, _File]) -> _Dir:
        node = _Dir(path)
        try:
            with os.scandir(path) as entries:
                listing = sorted(entries, key=lambda e: os.fsencode(e.name))
        except OSError as exc:
            raise HashError(exc.strerror or str(exc), path=path) from exc
        for entry in listing:
            name = os.fsencode(entry.name)
            if entry.is_symlink():
                node.children.append((name, os.readlink(entry.path)))
            elif entry.is_dir(follow_symlinks=False):
                node.children.append((name, self._walk(entry.path, files)))
            elif entry.is_file(follow_symlinks=False):
                st = entry.stat(follow_symlinks=False)
                node.children.append((name, files.setdefault(entry.path, _File(entry.path, st))))
            else:
                raise HashError("not a regular file, directory or symlink", path=entry.path)
        return node

    # -- hashing ---------------------------------------------------------------------------

    def _fill_from_cache(self, files: dict[str, _File]) -> None:
        if self._cache is None or not files:
            return
        known = self._cache.lookup_hashes(list(files))
        for path, entry in known.items():
            item = files.get(path)
            if item is not None and entry.matches(item.st):
                item.hash, item.cached = entry.hash, True

    def _hash_missing(self, files: dict[str, _File], stat_time: int) -> None:
        missing = [f for f in files.values() if f.hash is None]
        if not missing:
            return
        progress = self._progress
        if progress is not None:
            progress.start(sum(f.st.st_size for f in missing), len(missing))
        advance = progress.advance if progress is not None else None
        small = [f for f in missing if f.st.st_size < BIG_FILE_BYTES]
        big = [f for f in missing if f.st.st_size >= BIG_FILE_BYTES]

        def hash_share(share: list[_File]) -> None:
            for item in share:
                item.hash = _hash_one(item, advance)

        try:
            if len(small) > 1 and sum(f.st.st_size for f in small) >= POOL_MIN_BYTES:
                # Imported here: concurrent.futures pulls in logging, which every
                # `roar run` of a job that wrote nothing new would pay for at start-up.
                from concurrent.futures import ThreadPoolExecutor

                # One task per worker, not per file: submitting costs more than hashing
                # a small file, and a job may write thousands of them.
                shares = [small[i :: self._workers] for i in range(self._workers)]
                with ThreadPoolExecutor(self._workers) as pool:
                    list(pool.map(hash_share, shares))
            else:
                hash_share(small)
            for item in big:  # blake3 spreads each big file over every core already
                item.hash = _hash_one(item, advance)
        finally:
            if progress is not None:
                progress.finish()
        self._remember(missing, stat_time)

    def _remember(self, hashed: list[_File], stat_time: int) -> None:
        if self._cache is None:
            return
        fresh: list[HashCacheEntry] = []
        for item in hashed:
            assert item.hash is not None
            changed_at = max(item.st.st_mtime_ns, item.st.st_ctime_ns)
            if stat_time - changed_at <= self._racy_window_ns:
                continue
            try:
                after = os.stat(item.path)
            except OSError:
                continue
            if stat_key(item.st) == stat_key(after):  # unchanged while we read it
                fresh.append(HashCacheEntry.of(item.path, item.st, item.hash))
        if fresh:
            self._cache.store_hashes(fresh)

    # -- results ---------------------------------------------------------------------------

    def _digest_of(self, node: _File | _Dir) -> PathDigest:
        if isinstance(node, _File):
            assert node.hash is not None
            return PathDigest(node.path, node.hash, node.st.st_size, "file", node.cached)
        entries: list[tuple[bytes, EntryKind, str]] = []
        size, cached = 0, True
        for name, child in node.children:
            if isinstance(child, str):
                entries.append((name, "link", hash_bytes(os.fsencode(child))))
                continue
            digest = self._digest_of(child)
            entries.append((name, digest.kind, digest.hash))
            size += digest.size
            cached = cached and digest.cached
        return PathDigest(node.path, tree_digest(entries), size, "dir", cached)


def _hash_one(item: _File, advance: Callable[[int], None] | None) -> str:
    try:
        return hash_file(item.path, advance)
    except OSError as exc:
        raise HashError(exc.strerror or str(exc), path=item.path) from exc
