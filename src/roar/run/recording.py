"""From a finished trace to what a job records: its files, hashed, and its environment.

Kept apart from the run itself (record.py) so that none of it is imported before the
command starts: `run_job` loads this module while the command runs, on a core the command
leaves free, instead of after it ends (tens of milliseconds on every `roar run`).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Container, Mapping, Sequence
from pathlib import Path

from roar.capture.environment import redact_environment
from roar.capture.git_state import GitState
from roar.capture.host import capture_host
from roar.capture.journal import JournalEntry
from roar.capture.packages import PackageIndex, python_versions_from_paths
from roar.config import Config
from roar.errors import HashError
from roar.hashing import Hasher, PathDigest
from roar.hashing.hasher import RACY_WINDOW_NS
from roar.models import (
    MOVED_DIRECTORIES,
    MOVED_INPUTS,
    Artifact,
    FileRef,
    HashCacheEntry,
    enclosing,
)
from roar.named_tuple import NamedTuple
from roar.run.early import LayeredCache
from roar.run.tail import TailDigest, proven_entries
from roar.run.told import merge_refs, told_files
from roar.store import PARENT_UID_ENV, Store
from roar.trace.base import TraceResult
from roar.trace.classify import TMP_DIRS, TOOL_STATE_ENV, Classified, Filters, classify
from roar.trace.model import AccessLog
from roar.vcs.git import Git

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Any

__all__ = ["Recording", "early_filter", "relative", "what_to_record"]


class Recording(NamedTuple):
    inputs: list[FileRef]
    outputs: list[FileRef]
    environment: dict[str, Any]
    host: dict[str, Any]


def what_to_record(
    store: Store,
    config: Config,
    root: Path,
    git: GitState | None,
    result: TraceResult,
    journal: Sequence[JournalEntry],
    *,
    started_ns: int,
    environ: Mapping[str, str],
    package_index: Path,
    notes: list[str],
    early: Mapping[str, HashCacheEntry] | None = None,
    known: Mapping[str, HashCacheEntry] | None = None,
    tailed: Callable[[], Sequence[TailDigest]] = tuple,
) -> Recording:
    """The job's inputs and outputs (traced and told, hashed through the cache), the
    environment it used and the host; files that vanished before hashing become notes.
    `early`: digests taken while the command ran (run/early.py), used as cache entries;
    `known`: the store's cache entries looked up while it ran, not asked for again;
    `tailed`: waits for the outputs hashed as they were written (run/tail.py), and
    returns them, to be used where the trace proves them. It is called as late as it
    can be: the tails' rest is read meanwhile, on another core."""
    told = told_files(journal)
    filters = _filters(root, config, git, told.internal_dirs, environ)
    stat_time = time.time_ns()  # before classify stats the files (racy-clean check)
    classified: Classified = classify(result.log, filters, started_ns)
    sources = [relative(root, path) for path in classified.source_reads]
    environment = _environment(result, environ, sources, package_index)
    host = capture_host()
    early = early or {}
    tails = tailed()
    if tails:
        early = {**proven_entries(tails, result.rewrites, classified.stats), **early}
    if classified.moved:
        early = {**_moved_entries(store, classified, result.log), **early}
    digests = _hash_all(store, classified, stat_time, notes, early, known or {})
    inputs = merge_refs(_refs(root, classified.inputs, digests, classified.moved), told.reads, root)
    outputs = merge_refs(_refs(root, classified.outputs, digests), told.writes, root)
    if classified.moved:
        environment.update(_moves_on_record(root, classified, digests))
    return Recording(inputs, outputs, environment, host)


class _TrackedFiles:
    """`path in tracked` asks git once, on the first question about a path in the repo."""

    def __init__(self, root: Path) -> None:
        self._root = str(root) + os.sep
        self._git = Git(root)
        self._paths: set[str] | None = None

    def __contains__(self, path: object) -> bool:
        if not isinstance(path, str) or not path.startswith(self._root):
            return False
        if self._paths is None:
            self._paths = self._git.tracked_files()
        return path in self._paths


def _filters(
    root: Path,
    config: Config,
    git: GitState | None,
    internal_dirs: tuple[str, ...] = (),
    environ: Mapping[str, str] | None = None,
) -> Filters:
    """`environ`: the job's environment (TMPDIR, where caches were moved); roar's own when
    not given."""
    env = os.environ if environ is None else environ
    tracked: Container[str] = frozenset()
    if git is not None and not config.flag("output.track_repo_files"):
        tracked = _TrackedFiles(git.root)
    tmp = set(TMP_DIRS)
    if env.get("TMPDIR"):
        tmp.add(os.path.abspath(env["TMPDIR"]))
    return Filters(
        project_root=str(root),
        ignore_system_reads=config.flag("filters.ignore_system_reads"),
        ignore_package_reads=config.flag("filters.ignore_package_reads"),
        ignore_torch_cache=config.flag("filters.ignore_torch_cache"),
        ignore_tmp_files=config.flag("filters.ignore_tmp_files"),
        track_repo_files=config.flag("output.track_repo_files"),
        tracked_files=tracked,
        tmp_dirs=tuple(sorted(tmp)),
        internal_dirs=internal_dirs,
        pycache_prefix=env.get("PYTHONPYCACHEPREFIX"),
        tool_state_dirs=tuple(env[var] for var in TOOL_STATE_ENV if env.get(var)),
    )


def early_filter(root: Path, config: Config) -> Callable[[str, bool], bool]:
    """Would a job record this file, as an input (False) or an output (True)? For hashing
    early: git's rule is left out (it costs a `git ls-files`, and a tracked file hashed
    for nothing does no harm)."""
    filters = _filters(root, config, None)
    return lambda path, is_output: filters.drop_reason(path, is_output=is_output) is None


def _hash_all(
    store: Store,
    classified: Classified,
    stat_time: int,
    notes: list[str],
    early: Mapping[str, HashCacheEntry],
    known: Mapping[str, HashCacheEntry],
) -> dict[str, PathDigest]:
    """Hash every input and output, from the stats classify took; a file that vanished
    since is left out with a note. Early digests that matched join the hash cache."""
    hasher = Hasher(LayeredCache(early, store, known) if early or known else store)
    paths = list(classified.stats)  # inputs, outputs and where moved inputs are now
    digests: dict[str, PathDigest] = {}
    try:
        digests = hasher.hash_stated_files(classified.stats, stat_time)  # inputs and outputs
    except HashError:
        for path in paths:
            try:
                digests[path] = hasher.hash_paths([path])[0]
            except HashError as exc:
                notes.append(f"not recorded: {exc}")
        return digests
    used = [  # outside the racy window (a digest taken as the file was written is not)
        entry
        for path, entry in early.items()
        if (digest := digests.get(path)) is not None
        and digest.cached
        and digest.hash == entry.hash
        and stat_time - max(entry.mtime_ns, entry.ctime_ns) > RACY_WINDOW_NS
    ]
    if used:
        store.store_hashes(used)
    return digests


def _moves_on_record(
    root: Path, classified: Classified, digests: Mapping[str, PathDigest]
) -> dict[str, dict[str, str]]:
    """The inputs the job renamed away, which are missing afterwards by its own doing
    (roar status, models.moved_to): a whole directory once, not each of its files."""
    directories = {origin: directory for directory, origin in classified.moved_dirs.items()}
    files: dict[str, str] = {}
    used: set[str] = set()
    for source, path in sorted(classified.moved.items()):
        if path not in digests:
            continue
        directory = enclosing(source, directories)
        if directory is None:
            files[relative(root, source)] = relative(root, path)
        else:
            used.add(directory)
    found = {MOVED_INPUTS: files} if files else {}
    if used:
        found[MOVED_DIRECTORIES] = {
            relative(root, origin): relative(root, directories[origin]) for origin in sorted(used)
        }
    return found


def _moved_entries(
    store: Store, classified: Classified, log: AccessLog
) -> dict[str, HashCacheEntry]:
    """Cache entries for files that only changed their name, so a dataset the job moved
    is not read again. The files of a directory it renamed keep every stat field but the
    path: the cache's digest for the old name holds as it is. A file it renamed itself
    has a new ctime, which the rename set: its entry holds where the tracer saw the file,
    just before the rename, with the very ctime the cache knows (nothing changed it
    since it was hashed), and the file keeps its device, inode, size and mtime (and the
    trace heard nothing write it after the move: classify's origin rule). What this cannot
    see: another process rewriting the file after the rename and putting its mtime back,
    whose new ctime the rename's own hides."""
    found = store.lookup_hashes(list(classified.moved))
    entries: dict[str, HashCacheEntry] = {}
    for origin, entry in found.items():
        path = classified.moved[origin]
        st = classified.stats.get(path)
        if st is None:
            continue
        if entry.matches(st):
            entries[path] = entry._replace(path=path)
            continue
        state = log.paths.get(path)
        if (
            state is not None
            and state.moved_ctime == entry.ctime_ns
            and (entry.dev, entry.inode, entry.size, entry.mtime_ns)
            == (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        ):
            entries[path] = entry._replace(path=path, ctime_ns=st.st_ctime_ns)
    return entries


def relative(root: Path, path: str) -> str:
    """Paths inside the project are stored relative to it (portable to a worktree)."""
    prefix = str(root) + os.sep
    return path[len(prefix) :] if path.startswith(prefix) else path


def _refs(
    root: Path,
    paths: Sequence[str],
    digests: Mapping[str, PathDigest],
    moved: Mapping[str, str] | None = None,
) -> list[FileRef]:
    """`moved`: input -> the path that holds its content now (Classified.moved)."""
    # A job can hold thousands of files: the prefix and the clock are read once.
    prefix = str(root) + os.sep
    cut = len(prefix)
    now = time.time()
    refs = []
    for path in paths:
        digest = digests.get(moved.get(path, path) if moved else path)
        if digest is not None:
            relative = path[cut:] if path.startswith(prefix) else path
            refs.append(FileRef(relative, Artifact(digest.hash, digest.size, "file", now)))
    return refs


def _environment(
    result: TraceResult, environ: Mapping[str, str], sources: list[str], index_cache: Path
) -> dict[str, Any]:
    seen = list(result.log.paths)
    index = PackageIndex(index_cache)
    packages, sites = index.used(seen)
    index.save()
    return {
        # git-tracked files the job read: pinned by the commit, checked by `roar status`
        "source_files": sources,
        "packages": packages,
        # where each was installed: a reproduction compares with that environment, not roar's
        "package_sites": sites,
        "python_versions": python_versions_from_paths(seen),
        "roar_python": ".".join(map(str, sys.version_info[:3])),
        "variables": redact_environment(environ),
        # a `roar run` inside another: the outer one adopts this job when it is recorded
        **({"parent_uid": environ[PARENT_UID_ENV]} if environ.get(PARENT_UID_ENV) else {}),
    }
