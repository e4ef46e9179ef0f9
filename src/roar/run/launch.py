"""Start a `roar run` command before the rest of roar has loaded.

Loading roar (the store, git, hashing, the tracer, the CLI) takes tens of milliseconds of
every `roar run`, and a command used to wait for all of it. Here the command starts after
only this module, the filter's tables and roar's C extension have loaded: the extension
forks, installs the seccomp filter and executes the command, and its loop answers the
command's calls at once (trace/spawned.py). The start is gated: the command runs and reads
as it likes, but every call that would change a file (an open for writing, creat, truncate,
rename, link, unlink, rmdir, mkdir, chmod) waits until roar has read the git state and
opened its store. So the git state is the one the command started from, and a run roar
cannot record (a damaged store, a bad config) is ended before it changed any file that
existed: `RunningTrace.abort()`. Making a new file (an open with O_CREAT, creat, link or
symlink, on a name that does not exist; mkdir and mknod, which fail on one that does)
waits only for the git state, which is read from here (vcs/early_git.py) in 20-40 ms: a
job that makes its output directory and writes its results at once no longer waits for
the rest of roar to load.

Only the common case starts early: a project with `.roar/`, the `auto` or `seccomp`
tracer, a cached probe that says seccomp works here, roar's C supervisor, and a command
that exists. Everything else returns None and takes the usual path, which owns every
error message. `ROAR_EARLY_START=0` turns this off (to compare, or to debug).

What this module imports is what every `roar run` pays before its command starts, so it
imports no typing, subprocess, threading or json: each of those costs milliseconds here.
"""

from __future__ import annotations

import os
import sys
import time

from roar.child_env import JOURNAL_ENV, PARENT_UID_ENV, journal_file, new_job_uid
from roar.config_files import holds_only_comments, user_config_file
from roar.trace.probe_cache import PROBE_FILE, cached_probes, probe_key
from roar.trace.seccomp_filter import (
    build_filter,
    decoder_specs,
    native_arch,
    native_table,
    tail_calls,
)
from roar.which import find_program

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from roar.trace.seccomp_tracer import RunningTrace
    from roar.trace.spawned import SpawnedChild
    from roar.vcs.early_git import EarlyGit

__all__ = ["EARLY_START_ENV", "Launched", "launch_early"]

EARLY_START_ENV = "ROAR_EARLY_START"
#: As roar.project.ROAR_DIR, which this module cannot import (pathlib, the store).
_ROAR_DIR = ".roar"
_OFF = frozenset({"0", "false", "no", "off"})
_HASH_EARLY_ENV = "ROAR_HASH_EARLY"  # config.env_var_name("hash.early")


class Launched:
    """A command started early, for `run_job` to adopt (`running`)."""

    __slots__ = (
        "_running",
        "argv",
        "child",
        "git",
        "journal",
        "root",
        "started",
        "started_ns",
        "uid",
        "workdir",
    )

    def __init__(
        self,
        root: str,  # the project's directory (resolved)
        workdir: str,  # the command's working directory (resolved)
        argv: tuple[str, ...],
        uid: str,  # the job's uid, which the command's environment names
        journal: str,  # the journal file the command's environment names
        started: float,  # time.time() just before the start
        started_ns: int,
        child: SpawnedChild,
        git: EarlyGit | None,  # the work tree's git state being read (None: not in git)
    ) -> None:
        self.root, self.workdir, self.argv, self.uid, self.journal = (
            root,
            workdir,
            argv,
            uid,
            journal,
        )
        self.started, self.started_ns, self.child, self.git = started, started_ns, child, git
        self._running: RunningTrace | None = None

    @property
    def running(self) -> RunningTrace:
        """The command under the seccomp tracer (loaded now, if it was not yet)."""
        if self._running is None:
            from roar.trace.seccomp_tracer import SeccompTracer

            self._running = SeccompTracer().adopt(self.child, self.argv[0])
        return self._running


def launch_early(
    argv: Sequence[str],
    *,
    directory: str | None = None,
    tracer: str = "auto",
    environ: Mapping[str, str] = os.environ,
    overrides: Sequence[str] = (),
) -> Launched | None:
    """Start `argv` under the gated seccomp tracer in `directory` (default: the cwd), or
    None where the usual path must run it (see the module's docstring); `overrides`: the
    call's `-c KEY=VALUE` settings."""
    switched_off = environ.get(EARLY_START_ENV, "").strip().lower() in _OFF
    if switched_off or tracer not in ("auto", "seccomp") or not argv:
        return None
    try:
        workdir = os.path.realpath(directory or os.getcwd())
    except OSError:  # the cwd was deleted
        return None
    root = _project_root(workdir)
    if root is None:
        return None
    program = _program(argv[0], workdir, environ)
    if program is None:
        return None  # the usual path says why (127 for a missing command)
    roar_dir = os.path.join(root, _ROAR_DIR)
    works, _why = cached_probes(os.path.join(roar_dir, PROBE_FILE), probe_key()).get(
        "seccomp", (False, "")
    )
    arch = native_arch()
    if not works or arch is None:
        return None  # not probed yet, or refused: choose_tracer says why and falls back
    tails = _hash_early(roar_dir, environ, overrides)
    if environ.get("ROAR_SECCOMP_LOOP") == "python":  # as SeccompTracer decides
        return None
    try:
        from roar.trace import _supervisor  # noqa: F401 - built, or the usual path
    except ImportError:
        return None
    from roar.trace.spawned import spawn

    filter_program, _length = build_filter(
        arch, cwd_calls=True, change_calls=True, tail_calls=tails
    )
    table = native_table(
        decoder_specs(arch),
        arch.cwd_numbers.values(),
        arch.change_numbers,
        tail_calls(arch) if tails else None,
    )
    uid = new_job_uid()
    try:
        journal = journal_file(roar_dir, uid)
        env = {**environ, PARENT_UID_ENV: uid, JOURNAL_ENV: journal}
        started, started_ns = time.time(), time.time_ns()
        child = spawn(program, argv, env, workdir, filter_program, table, gated=True, tails=tails)
    except OSError:
        return None  # the usual path meets the same refusal and says so, or falls back
    git = _read_git(workdir, environ, child)
    return Launched(root, workdir, tuple(argv), uid, journal, started, started_ns, child, git)


def _read_git(workdir: str, environ: Mapping[str, str], child: SpawnedChild) -> EarlyGit | None:
    """Start reading the git state the command starts from; once it is read, the command
    may make new files (their names change no file that was there before, nor, with the
    state read first, the recorded state). Outside git it may at once."""
    from roar.vcs.early_git import EarlyGit, find_work_tree

    try:
        git = EarlyGit.start(workdir, environ, child.open_creates)
    except OSError:
        return None  # run_job reads it the usual way, and the gate opens only then
    if git is None and find_work_tree(workdir) is None:
        child.open_creates()
    return git


def _hash_early(roar_dir: str, environ: Mapping[str, str], overrides: Sequence[str]) -> bool:
    """The `hash.early` setting (which tails follow), read as roar.config resolves it (a
    flag, then the environment, the project's file, the user's file) without importing
    it: that would cost this start 7-9 ms. A value this cannot read counts as the
    default; the usual path then reads the settings and says what is wrong."""
    for override in reversed(overrides):
        key, _, raw = override.partition("=")
        if key.strip() == "hash.early":
            return raw.strip().lower() not in _OFF
    if _HASH_EARLY_ENV in environ:
        return environ[_HASH_EARLY_ENV].strip().lower() not in _OFF
    for path in (os.path.join(roar_dir, "config.toml"), user_config_file(environ)):
        value = _toml_flag(path, "hash", "early")
        if value is not None:
            return value
    return True


def _toml_flag(path: str, section: str, key: str) -> bool | None:
    """`[section] key = true|false` in the TOML file at `path`; None when it is not set
    there (or the file cannot be read). The file `roar init` writes holds only comments,
    which is told without importing a TOML parser."""
    try:
        with open(path, "rb") as handle:
            text = handle.read().decode()
    except (OSError, UnicodeDecodeError):
        return None
    if holds_only_comments(text):
        return None
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]
    try:
        table = tomllib.loads(text).get(section)
    except tomllib.TOMLDecodeError:
        return None
    value = table.get(key) if isinstance(table, dict) else None
    return value if isinstance(value, bool) else None


def _program(name: str, workdir: str, environ: Mapping[str, str]) -> str | None:
    """The file `name` executes (searched on the job's PATH, as execvpe would), or None
    when there is none: check_command then says why."""
    if "/" in name:
        path = name if os.path.isabs(name) else os.path.join(workdir, name)
        return find_program(path)
    return find_program(name, path=environ.get("PATH", os.defpath))


def _project_root(start: str) -> str | None:
    """The nearest directory at or above `start` holding `.roar/` (as find_project)."""
    directory = start
    while True:
        if os.path.isdir(os.path.join(directory, _ROAR_DIR)):
            return directory
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent
