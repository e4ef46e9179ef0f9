"""Start a `roar run` command before the rest of roar has loaded.

Loading roar (the store, git, hashing, the CLI) takes 40-50 ms of every `roar run`, and a
command used to wait for all of it. Here the command starts after only the tracer has
loaded, under the seccomp tracer's gate (`SeccompTracer.start(gated=True)`): it runs
and reads as it likes, but every call that would change a file (an open for writing,
creat, truncate, rename, link, unlink, rmdir, mkdir, chmod) waits until roar has read the git
state and opened its store. So the git state is the one the command started from, and a
run roar cannot record (a damaged store, a bad config) is ended before it changed any
file: `RunningTrace.abort()`.

Only the common case starts early: a project with `.roar/`, the `auto` or `seccomp`
tracer, a cached probe that says seccomp works here, roar's C supervisor, and a command
that exists. Everything else returns None and takes the usual path, which owns every
error message. `ROAR_EARLY_START=0` turns this off (to compare, or to debug).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from roar.child_env import JOURNAL_ENV, PARENT_UID_ENV, journal_file, new_job_uid
from roar.errors import RoarError, TracerUnavailable
from roar.run.command import check_command
from roar.trace.probe_cache import PROBE_FILE, cached_probes, probe_key
from roar.trace.seccomp_tracer import RunningTrace, SeccompTracer

__all__ = ["EARLY_START_ENV", "Launched", "launch_early"]

EARLY_START_ENV = "ROAR_EARLY_START"
#: As roar.project.ROAR_DIR, which this module cannot import (pathlib, the store).
_ROAR_DIR = ".roar"
_OFF = frozenset({"0", "false", "no", "off"})
_HASH_EARLY_ENV = "ROAR_HASH_EARLY"  # config.env_var_name("hash.early")


class Launched(NamedTuple):
    """A command started early, for `run_job` to adopt."""

    root: str  # the project's directory (resolved)
    workdir: str  # the command's working directory (resolved)
    argv: tuple[str, ...]
    uid: str  # the job's uid, which the command's environment names
    journal: str  # the journal file the command's environment names
    started: float  # time.time() just before the start
    started_ns: int
    running: RunningTrace


def launch_early(
    argv: Sequence[str],
    *,
    directory: str | None = None,
    tracer: str = "auto",
    environ: Mapping[str, str] = os.environ,
) -> Launched | None:
    """Start `argv` under the gated seccomp tracer in `directory` (default: the cwd), or
    None where the usual path must run it (see the module's docstring)."""
    switched_off = environ.get(EARLY_START_ENV, "").strip().lower() in _OFF
    if switched_off or tracer not in ("auto", "seccomp"):
        return None
    try:
        workdir = os.path.realpath(directory or os.getcwd())
    except OSError:  # the cwd was deleted
        return None
    root = _project_root(workdir)
    if root is None:
        return None
    try:
        check_command(argv, workdir, environ)
    except RoarError:
        return None  # the usual path says why (127 for a missing command)
    roar_dir = os.path.join(root, _ROAR_DIR)
    works, _why = cached_probes(os.path.join(roar_dir, PROBE_FILE), probe_key()).get(
        "seccomp", (False, "")
    )
    if not works:
        return None  # not probed yet, or refused: choose_tracer says why and falls back
    try:
        seccomp = SeccompTracer()
        if not seccomp.native_loop:
            return None
        uid = new_job_uid()
        journal = journal_file(roar_dir, uid)
        env = {**environ, PARENT_UID_ENV: uid, JOURNAL_ENV: journal}
        started, started_ns = time.time(), time.time_ns()
        # Settings are not read yet (that costs milliseconds before the command starts):
        # tails follow `hash.early` as far as the environment says (ROAR_HASH_EARLY).
        tails = environ.get(_HASH_EARLY_ENV, "").strip().lower() not in _OFF
        running = seccomp.start(argv, cwd=workdir, env=env, gated=True, tails=tails)
    except (TracerUnavailable, OSError):
        return None  # the usual path meets the same refusal and says so, or falls back
    return Launched(root, workdir, tuple(argv), uid, journal, started, started_ns, running)


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
