"""Git state, packages and host of a task call, as `roar run` records them, kept per process.

A task call must cost milliseconds, and asking git costs several (two processes, more
when the tree is dirty). So the state is kept between calls together with a fingerprint:
the stat (mtime, ctime, size, inode) of HEAD, the index, the branch ref, packed-refs, the
config and every tracked file. git is asked again when any of them moved. ctime is in the
fingerprint because no tool can set it back; a file changed less than two seconds ago is
never trusted (a second change in the same clock tick could leave every field as it was),
and neither is a work tree of more files than are quicker to stat than to ask git about.

Packages: the distributions that own the modules loaded in this process (a task has no
tracer; what is imported is what the process used), recomputed when sys.modules grows.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from roar.capture.git_state import GitState, capture_git_state
from roar.capture.host import capture_host
from roar.capture.packages import PackageIndex
from roar.hashing.hasher import RACY_WINDOW_NS
from roar.objects import ObjectStore
from roar.vcs.git import Git
from roar.vcs.index import git_dir as find_git_dir

__all__ = ["CodeState", "code_state", "host", "packages_in_use"]

#: Beyond this many tracked files, stat-ing them all costs what `git status` costs.
_MAX_FINGERPRINT_FILES = 2_000
#: Loaded by roar itself in the task's process, not by the task.
_ROAR_OWN = ("roar", "blake3")


@dataclass(frozen=True)
class CodeState:
    git: GitState
    patch_hash: str | None
    tracked: frozenset[str]  # absolute paths


@dataclass(frozen=True)
class _Cached:
    fingerprint: tuple[Any, ...]
    state: CodeState


_lock = threading.Lock()
_cache: dict[Path, _Cached] = {}


def _git_dirs(root: Path) -> tuple[Path, Path]:
    """(this work tree's git dir, the common dir holding refs and config)."""
    located = find_git_dir(str(root))
    # unreadable: reading HEAD under `.git` then fails, and the state is not cached
    git_dir = Path(located).resolve() if located is not None else root / ".git"
    common = git_dir
    commondir = git_dir / "commondir"
    if commondir.is_file():
        common = (git_dir / commondir.read_text(encoding="utf-8").strip()).resolve()
    return git_dir, common


def _fingerprint(root: Path, tracked: frozenset[str]) -> tuple[Any, ...] | None:
    """The stat of everything the git state depends on; None when it cannot be trusted."""
    if len(tracked) > _MAX_FINGERPRINT_FILES:
        return None
    try:
        git_dir, common = _git_dirs(root)
        head = (git_dir / "HEAD").read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None
    paths: list[str | Path] = [
        git_dir / "HEAD",
        git_dir / "index",
        common / "packed-refs",
        common / "config",
    ]
    if head.startswith("ref: "):
        paths.append(common / head[5:])
    fresh_after = time.time_ns() - RACY_WINDOW_NS
    keys: list[Any] = []
    for path in [*paths, *sorted(tracked)]:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            keys.append(None)
            continue
        except OSError:
            return None
        if st.st_ctime_ns >= fresh_after or st.st_mtime_ns >= fresh_after:
            return None
        keys.append((st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino))
    return tuple(keys)


def code_state(start: Path, objects: ObjectStore) -> CodeState | None:
    """The git state of the work tree holding `start` (None outside git)."""
    git = Git.discover(start)
    if git is None:
        return None
    root = git.root
    with _lock:
        cached = _cache.get(root)
    if cached is not None:
        now = _fingerprint(root, cached.state.tracked)
        if now is not None and now == cached.fingerprint:
            return cached.state
    tracked = frozenset(git.tracked_files())
    before = _fingerprint(root, tracked)  # taken first: a change during capture shows later
    state = capture_git_state(root)
    if state is None:  # pragma: no cover - .git vanished between the two looks
        return None
    patch_hash = objects.put_bytes(state.patch) if state.patch else None
    found = CodeState(state, patch_hash, tracked)
    if before is not None:
        with _lock:
            _cache[root] = _Cached(before, found)
    return found


_packages_lock = threading.Lock()
_packages: dict[Path, tuple[int, dict[str, str], dict[str, str]]] = {}


def packages_in_use(index_file: Path) -> tuple[dict[str, str], dict[str, str]]:
    """({distribution: version}, {distribution: site dir}) of the modules loaded here."""
    loaded = len(sys.modules)
    with _packages_lock:
        known = _packages.get(index_file)
        if known is not None and known[0] == loaded:
            return known[1], known[2]
        files = [
            path
            for name, module in list(sys.modules.items())
            if name.partition(".")[0] not in _ROAR_OWN
            and isinstance(path := getattr(module, "__file__", None), str)
        ]
        index = PackageIndex(index_file)
        found = index.used(files)
        index.save()
        _packages[index_file] = (loaded, *found)
        return found


@functools.cache
def host() -> dict[str, Any]:
    """The machine: it does not change while the process lives (nvidia-smi runs once)."""
    return capture_host()
