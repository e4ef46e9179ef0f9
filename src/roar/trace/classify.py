"""From an AccessLog to the job's inputs and outputs, with the configured filters.

A path is an output when the job opened it for writing (or renamed/linked it into place),
it still exists, and its ctime moved during the run: a read-write open that changed
nothing is not an output. ctime rather than mtime because `cp -p` and `touch -r` restore
mtime. Everything else the job read or executed, still present, is an input. Files under
the project root are never dropped as temporary, even when the project lives under /tmp.

A file the job found and renamed (`mv data.csv done/data.csv`) is an input under the name
it had, whether or not the job read it: its content now lives at the new name, which is
hashed for it. So is the source of a hard link the job made (`ln data.csv stage/`), which
is still there. That holds only while the new name still has the content from before the
job: nothing wrote it after the rename (the trace's order says so, model.origin_of) and
its mtime is older than the job (which also covers a write the trace could not tie to it,
say through a second hard link).

A directory renamed into place (a checkpoint written under a temporary name, then moved
to its final one) holds files the trace saw, if at all, under the old name; so every file
under it is an output at its new path, and one whose content is older than the job is
also an input under the name it had. That takes the directory's ctime moving during the
job: a rename that failed (onto a directory that was not empty) leaves it as it was.
"""

from __future__ import annotations

import functools
import os
import re
import stat
import sys
from collections import Counter
from collections.abc import Callable, Container, Iterable

from roar.models import enclosing
from roar.named_tuple import NamedTuple
from roar.trace.model import AccessLog

__all__ = ["Classified", "Filters", "classify"]

#: Kernel timestamps come from a coarse clock that may lag the wall clock by one tick
#: (10 ms at HZ=100, the slowest common setting).
CTIME_TOLERANCE_NS = 10_000_000

TRACKED = "tracked by git"
_ALWAYS = ("/proc/", "/sys/", "/dev/")
#: A tmpfs of ordinary files under /dev: a scratch place like /tmp (a project may live there).
SHARED_MEMORY = "/dev/shm"
#: Where the "tmp" rule looks, unless told otherwise.
TMP_DIRS = ("/tmp", "/var/tmp", SHARED_MEMORY)
#: roar's own code, wherever it is installed: in site-packages the package rule drops it,
#: but an editable install (a source checkout) is not there.
ROAR_CODE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_SYSTEM = ("/usr/", "/lib/", "/lib32/", "/lib64/", "/libx32/", "/bin/", "/sbin/", "/etc/",
           "/var/lib/", "/var/cache/", "/run/", "/snap/", "/nix/store/")  # fmt: skip
_STDLIB = re.compile(r"/lib/python\d+\.\d+/(?!.*(site|dist)-packages/)")
_SHARED_LIB = re.compile(r"\.so(\.\d+)*$")
_HOME_TOOLS = (".pyenv", ".rbenv", ".nvm", ".cargo", ".rustup", ".local/share/uv", ".conda",
               "miniconda3", "anaconda3", "miniforge3", ".cache/pip", ".cache/uv",
               ".gitconfig", ".config/git")  # fmt: skip
#: What git keeps for itself. A job that runs git (`git rev-parse HEAD` for its logs, a
#: version from setuptools-scm) reads HEAD, refs and objects and rewrites the index; as
#: inputs they would change with every commit, making the job stale and its reproduction
#: refuse over a "changed source". The commit a job ran at is recorded apart (its git state).
GIT_INTERNALS = "git's own files"
_GIT_DIR = "/.git/"
#: Compiled modules Python writes next to the source (or under PYTHONPYCACHEPREFIX). They
#: follow from the source, which a job records; as files they would make the first job
#: that imported a module the "producer" of every later job that imports it.
BYTECODE = "Python's bytecode cache"
_PYCACHE_DIR = "/__pycache__/"
#: Caches and settings that tools keep in the home directory for themselves, read and
#: rewritten by whatever job loads the tool (matplotlib's font list is written by the first
#: job that plots, then read by every later one). Never data.
TOOL_STATE = "a tool's cache or settings"
_HOME_TOOL_STATE = (".cache/matplotlib", ".config/matplotlib", ".cache/fontconfig",
                    ".fontconfig", ".nv/ComputeCache", ".ipython", ".jupyter")  # fmt: skip
#: Variables that move those caches (read from the job's environment).
TOOL_STATE_ENV = ("MPLCONFIGDIR", "CUDA_CACHE_PATH")
_INTERPRETER = re.compile(r"(python|pypy)\d*(\.\d+)?m?$")


class _Dirs(NamedTuple):
    """A set of directories, asked "is this path one of them or inside one?" in one C call.

    classify() asks this of every path a job touched, thousands of times per run.
    """

    exact: frozenset[str]
    prefixes: tuple[str, ...]

    @classmethod
    def of(cls, dirs: tuple[str, ...]) -> _Dirs:
        stripped = [d.rstrip("/") or "/" for d in dirs]
        return cls(frozenset(stripped), tuple(d if d == "/" else d + "/" for d in stripped))

    def contain(self, path: str) -> bool:
        return path.startswith(self.prefixes) or path in self.exact


class Filters:
    """What a job's record leaves out. Set once, then only read; the directory sets it asks
    of every path are built on first use. (A plain class, not a dataclass: `roar run`
    builds it at start-up, where a dataclass costs milliseconds to create.)"""

    def __init__(
        self,
        project_root: str,
        *,
        ignore_system_reads: bool = True,
        ignore_package_reads: bool = True,
        ignore_torch_cache: bool = True,
        ignore_tmp_files: bool = True,
        track_repo_files: bool = False,
        tracked_files: Container[str] = frozenset(),  # may load lazily (git ls-files)
        home: str | None = None,
        tmp_dirs: tuple[str, ...] = TMP_DIRS,
        internal_dirs: tuple[str, ...] = (),
        python_prefixes: tuple[str, ...] | None = None,
        pycache_prefix: str | None = None,  # PYTHONPYCACHEPREFIX, when set
        tool_state_dirs: tuple[str, ...] = (),  # where TOOL_STATE_ENV moved them
    ) -> None:
        self.project_root = project_root
        self.ignore_system_reads = ignore_system_reads
        self.ignore_package_reads = ignore_package_reads
        self.ignore_torch_cache = ignore_torch_cache
        self.ignore_tmp_files = ignore_tmp_files
        self.track_repo_files = track_repo_files
        self.tracked_files = tracked_files
        self.home = os.path.expanduser("~") if home is None else home
        self.tmp_dirs = tmp_dirs
        # bookkeeping of a library that told roar what it stored (a checkpoint store's
        # staging, manifests and refs): its own entries stand for it (capture/journal.py)
        self.internal_dirs = internal_dirs
        self.pycache_prefix = os.path.abspath(pycache_prefix) if pycache_prefix else None
        self.tool_state_dirs = tool_state_dirs
        self.python_prefixes = (
            tuple({sys.prefix, sys.base_prefix, sys.exec_prefix})
            if python_prefixes is None
            else python_prefixes
        )

    @property
    def roar_dir(self) -> str:
        return os.path.join(self.project_root, ".roar")

    def in_project(self, path: str) -> bool:
        return self._project.contain(path)

    @functools.cached_property
    def _torch_dirs(self) -> _Dirs:
        return _Dirs.of(self.torch_cache_dirs())

    @functools.cached_property
    def _torch_hub(self) -> _Dirs:
        return _Dirs.of(self.torch_hub_dirs())

    @functools.cached_property
    def _tool_roots(self) -> _Dirs:
        return _Dirs.of(self.tool_roots())

    @functools.cached_property
    def _tmp_dirs(self) -> _Dirs:
        return _Dirs.of(self.tmp_dirs)

    @functools.cached_property
    def _project(self) -> _Dirs:
        return _Dirs.of((self.project_root,))

    @functools.cached_property
    def _internal(self) -> _Dirs:
        return _Dirs.of(self.internal_dirs)

    @functools.cached_property
    def _roar(self) -> _Dirs:
        return _Dirs.of((self.roar_dir,))

    @functools.cached_property
    def _tool_state(self) -> _Dirs:
        dirs = [os.path.join(self.home, name) for name in _HOME_TOOL_STATE]
        return _Dirs.of((*dirs, *(os.path.abspath(d) for d in self.tool_state_dirs)))

    @functools.cached_property
    def _pycache(self) -> _Dirs:
        return _Dirs.of((self.pycache_prefix,) if self.pycache_prefix else ())

    @functools.cached_property
    def _roar_code(self) -> _Dirs:
        return _Dirs.of((ROAR_CODE,))

    def _cache_home(self) -> str:
        return os.environ.get("XDG_CACHE_HOME") or os.path.join(self.home, ".cache")

    def torch_cache_dirs(self) -> tuple[str, ...]:
        dirs = [
            os.path.join(self._cache_home(), "torch"),
            os.path.join(self._cache_home(), "torch_extensions"),
            os.path.join(self.home, ".triton"),
        ]
        for var in ("TORCH_HOME", "TORCH_EXTENSIONS_DIR", "TORCHINDUCTOR_CACHE_DIR",
                    "TRITON_CACHE_DIR"):  # fmt: skip
            if os.environ.get(var):
                dirs.append(os.environ[var])
        return tuple(dirs)

    def torch_hub_dirs(self) -> tuple[str, ...]:
        """Where torch.hub keeps what it downloads (`$TORCH_HOME/hub`): pretrained weights
        and model code, a job's inputs as much as a dataset it downloaded is, though the
        folder lies inside the torch cache."""
        torch_home = os.environ.get("TORCH_HOME") or os.path.join(self._cache_home(), "torch")
        return (os.path.join(torch_home, "hub"),)

    def drop_reason(self, path: str, *, is_output: bool) -> str | None:
        """Why `path` is not recorded, or None to record it."""
        directory, _, name = path.rpartition("/")
        if self._decided_by_directory(path, name):
            # Thousands of files share a few directories; the verdict is worked out once
            # per directory (and per direction) from the first file asked about there.
            key = (directory, is_output)
            verdicts = self._verdicts
            if key in verdicts:
                reason = verdicts[key]
            else:
                reason = verdicts[key] = self._reason_by_place(path, is_output)
        else:
            reason = self._reason_by_place(path, is_output)
        if reason is not None or is_output or self.track_repo_files:
            return reason
        return TRACKED if path in self.tracked_files else None

    def _decided_by_directory(self, path: str, name: str) -> bool:
        """Whether every rule but git's looks only at the directory part of `path`: no rule
        reads its name (interpreters, `pyvenv.cfg`, shared libraries, `/torchinductor_`
        reaching into the name) and it is not itself one of the listed directories."""
        return not (
            name.startswith(("python", "pypy"))
            or name in ("pyvenv.cfg", ".git")
            or ".so" in name
            or "/torchinductor_" in path
            or path in self._listed
        )

    @functools.cached_property
    def _verdicts(self) -> dict[tuple[str, bool], str | None]:
        return {}

    @functools.cached_property
    def _listed(self) -> frozenset[str]:
        """Every directory named in a rule, which `_Dirs.contain` also matches exactly."""
        return frozenset().union(
            *(
                dirs.exact
                for dirs in (
                    self._roar,
                    self._roar_code,
                    self._pycache,
                    self._tool_state,
                    self._internal,
                    self._project,
                    self._torch_dirs,
                    self._torch_hub,
                    self._tool_roots,
                    self._tmp_dirs,
                )
            )
        )

    def _reason_by_place(self, path: str, is_output: bool) -> str | None:
        """drop_reason without git's rule: what the path's place and name say."""
        if _GIT_DIR in path or path.endswith("/.git"):  # a work tree's .git is a file
            return GIT_INTERNALS
        if _PYCACHE_DIR in path or self._pycache.contain(path):
            return BYTECODE
        if (
            path.startswith(_ALWAYS) and not path.startswith(SHARED_MEMORY + "/")
        ) or self._roar.contain(path):
            return "virtual or roar's own"
        inside = self.in_project(path)
        if not inside and self._roar_code.contain(path):  # in roar's own repository: kept
            return "virtual or roar's own"
        if self.internal_dirs and self._internal.contain(path):
            return "told by the library that wrote it"
        if self.ignore_package_reads and ("/site-packages/" in path or "/dist-packages/" in path):
            return "package"
        if self.ignore_torch_cache and (
            (self._torch_dirs.contain(path) and not self._torch_hub.contain(path))
            or "/torchinductor_" in path
        ):
            return "torch cache"
        if not inside and self._tool_state.contain(path):
            return TOOL_STATE
        if not is_output and self.ignore_system_reads and self._system(path, inside):
            return "system"
        if self.ignore_tmp_files and not inside and self._tmp_dirs.contain(path):
            return "tmp"
        return None

    def tool_roots(self) -> tuple[str, ...]:
        """Installations of language toolchains in the home directory (pyenv, nvm, ...)."""
        roots = [os.path.join(self.home, name) for name in _HOME_TOOLS]
        if os.environ.get("PYENV_ROOT"):
            roots.append(os.environ["PYENV_ROOT"])
        return (*self.python_prefixes, *roots)

    def _system(self, path: str, inside: bool) -> bool:
        # The literal checks in front of the regexes keep the common path cheap: classify
        # asks this of every file a job read.
        name = path.rpartition("/")[2]
        if name == "pyvenv.cfg" or (
            name.startswith(("python", "pypy")) and _INTERPRETER.match(name)
        ):
            return True
        if "/lib/python" in path and _STDLIB.search(path):
            return True
        if self._tool_roots.contain(path):
            return True
        if inside:
            return False
        return path.startswith(_SYSTEM) or bool(_SHARED_LIB.search(path))


class Classified(NamedTuple):
    inputs: list[str]
    outputs: list[str]
    # paths each rule left out; a read-only path dropped for its place is counted without
    # a stat, so whether it still existed is not known
    dropped: Counter[str]
    source_reads: list[str]  # git-tracked files it read
    # what classify saw of each input and output (symlinks followed), for the hasher; and
    # of each file that holds a moved input's content
    stats: dict[str, os.stat_result]
    # input -> the path its content lives at now (renamed there by the job), to be hashed
    # in its place
    moved: dict[str, str]
    # directory the job renamed into place -> the name it had (its files are in `moved`)
    moved_dirs: dict[str, str]


def classify(
    log: AccessLog,
    filters: Filters,
    started_ns: int,
    lstat: Callable[[str], os.stat_result] = os.lstat,
    stat_path: Callable[[str], os.stat_result] = os.stat,
    walk: Callable[[str], Iterable[str]] | None = None,
) -> Classified:
    """`walk`: the files under a directory (_files_under where not given)."""
    inputs: list[str] = []
    outputs: list[str] = []
    dropped: Counter[str] = Counter()
    sources: list[str] = []
    stats: dict[str, os.stat_result] = {}
    moves: list[tuple[str, str, os.stat_result]] = []  # (origin, path, stat of path)
    moved_dirs = _MovedDirectories(log, started_ns, lstat)
    in_moved_dir = moved_dirs.hold if moved_dirs else None  # asked of every path: no call
    for path, state in log.paths.items():
        if state.deleted or not path.startswith("/"):
            continue
        if in_moved_dir is not None and in_moved_dir(path):
            continue  # settled below, with every file the directory holds
        if not state.write_intent:
            if not (state.read or state.executed):
                continue
            # Only an input can come of it, so where it lies may settle it without a stat:
            # an import of numpy and pandas reads a thousand package files.
            reason = filters.drop_reason(path, is_output=False)
            if reason is not None and reason != TRACKED:
                dropped[reason] += 1
                continue
        try:
            link_info = lstat(path)
            info = stat_path(path) if stat.S_ISLNK(link_info.st_mode) else link_info
        except OSError:
            continue  # gone before we looked: a temporary file
        if not stat.S_ISREG(info.st_mode):
            continue
        if (
            state.origin is not None
            and state.origin != path
            and info.st_mtime_ns < started_ns - CTIME_TOLERANCE_NS
        ):
            moves.append((state.origin, path, info))
        changed = link_info.st_ctime_ns >= started_ns - CTIME_TOLERANCE_NS
        is_output = state.write_intent and changed
        if not is_output and not (state.read or state.executed):
            continue
        if state.write_intent:
            reason = filters.drop_reason(path, is_output=is_output)
        if reason is not None:
            dropped[reason] += 1
            if reason == TRACKED:
                sources.append(path)
        elif is_output:
            outputs.append(path)
            stats[path] = info
        else:
            inputs.append(path)
            stats[path] = info
    for path, origin in moved_dirs.files(walk or _files_under):
        if path in stats:
            continue
        try:
            info = lstat(path)
        except OSError:
            continue
        if not stat.S_ISREG(info.st_mode):
            continue
        if origin is not None and info.st_mtime_ns < started_ns - CTIME_TOLERANCE_NS:
            moves.append((origin, path, info))
        reason = filters.drop_reason(path, is_output=True)
        if reason is not None:
            dropped[reason] += 1
            continue
        outputs.append(path)
        stats[path] = info
    moved, linked = _moved_inputs(moves, filters, stats, dropped, sources, lstat)
    inputs.extend(moved)
    inputs.extend(linked)
    return Classified(
        sorted(inputs), sorted(outputs), dropped, sorted(sources), stats, moved, moved_dirs.named()
    )


class _MovedDirectories:
    """The directories the job renamed into place (see the module's docstring), each with
    the name it had and when the rename was heard (PathState.moved_at).

    Such a directory was empty or absent before the rename, so every file under it at the
    end is new there: an output, whatever the trace heard of it under this name (before
    the rename: a file of the old directory, now gone; after: read, or written, in place).
    Its content is the old file's unless the trace heard it written after the rename."""

    def __init__(
        self, log: AccessLog, started_ns: int, lstat: Callable[[str], os.stat_result]
    ) -> None:
        self._log = log
        self._dirs: dict[str, tuple[str, int]] = {}
        for path, state in log.paths.items():
            # a directory moved has an origin (the job writes no directory's content)
            if not state.moved_at or state.origin is None or not path.startswith("/"):
                continue
            try:
                info = lstat(path)
            except OSError:
                continue
            if stat.S_ISDIR(info.st_mode) and info.st_ctime_ns >= started_ns - CTIME_TOLERANCE_NS:
                self._dirs[path] = (state.origin, state.moved_at)

    def __bool__(self) -> bool:
        return bool(self._dirs)

    def named(self) -> dict[str, str]:
        """Each directory -> the name it had."""
        return {directory: origin for directory, (origin, _event) in self._dirs.items()}

    def hold(self, path: str) -> bool:
        return self._innermost(path) is not None

    def _innermost(self, path: str) -> str | None:
        return enclosing(path, self._dirs)

    def files(self, walk: Callable[[str], Iterable[str]]) -> Iterable[tuple[str, str | None]]:
        """(path, the name its content had before the job, None for the job's own) of
        every file under these directories."""
        for directory, (origin, renamed) in self._dirs.items():
            for path in walk(directory):
                if self._innermost(path) != directory:
                    continue  # came with a directory renamed into this one: that one's
                state = self._log.paths.get(path)
                if state is not None and state.last > renamed and state.write_intent:
                    yield path, state.origin  # written, renamed or linked there since
                else:
                    yield path, origin + path[len(directory) :]  # came with the directory


def _files_under(directory: str) -> Iterable[str]:
    """Every path under `directory` that is not a directory (symlinks not followed)."""
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                yield from _files_under(entry.path)
            else:
                yield entry.path
        except OSError:
            continue


def _moved_inputs(
    moves: list[tuple[str, str, os.stat_result]],
    filters: Filters,
    stats: dict[str, os.stat_result],
    dropped: Counter[str],
    sources: list[str],
    lstat: Callable[[str], os.stat_result],
) -> tuple[dict[str, str], list[str]]:
    """The inputs the job renamed away (see the module's docstring), each with the path
    its content lives at now; and the sources of hard links it made, still there (inputs
    like any read). Filtered as any input is; `stats` gains the paths to hash. A name that
    is itself an input or output at the end stays what it is there."""
    moved: dict[str, str] = {}
    linked: list[str] = []
    for origin, path, info in moves:
        if origin in stats or origin in moved:
            continue
        reason = filters.drop_reason(origin, is_output=False)
        if reason is not None:
            dropped[reason] += 1
            if reason == TRACKED and origin not in sources:
                sources.append(origin)
            continue
        try:
            now = lstat(origin)
        except OSError:
            now = None
        if now is not None and (now.st_dev, now.st_ino) == (info.st_dev, info.st_ino):
            linked.append(origin)
            stats[origin] = now
        else:
            moved[origin] = path
            stats.setdefault(path, info)
    return moved, linked
