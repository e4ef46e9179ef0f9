"""Run a command under a tracer and record it: one job, its files, code and environment."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roar.capture.environment import redact_environment
from roar.capture.git_state import GitState, capture_git_state
from roar.capture.host import capture_host
from roar.capture.journal import JOURNAL_ENV, read_journal
from roar.capture.packages import PackageIndex, python_versions_from_paths
from roar.config import Config
from roar.errors import HashError
from roar.hashing import Hasher, PathDigest
from roar.models import Artifact, FileRef, Job, JobKind, JobSpec
from roar.objects import ObjectStore
from roar.project import Project
from roar.run.collect import collect_for_job
from roar.run.command import check_command, step_name
from roar.run.told import merge_refs, told_files
from roar.store import PARENT_UID_ENV, Store, new_job_uid
from roar.store.wal import BackgroundCheckpoint
from roar.trace import choose_tracer
from roar.trace.base import StepControl, TraceResult
from roar.trace.choose import TracerName
from roar.trace.classify import Classified, Filters, classify
from roar.vcs.git import Git

__all__ = ["RunOutcome", "RunRequest", "run_job", "step_name"]


@dataclass(frozen=True)
class RunRequest:
    argv: tuple[str, ...]
    kind: JobKind = "run"
    name: str | None = None
    tracer: TracerName = "auto"
    reproduces: int | None = None  # the job this run replays (kind "reproduce")
    collect_sources: bool | None = None  # copy source inputs to .roar/objects; None: config


@dataclass
class RunOutcome:
    job: Job
    exit_code: int
    signal: int | None
    inputs: list[FileRef]
    outputs: list[FileRef]
    tracer: str
    notes: list[str] = field(default_factory=list)
    stopped: str | None = None  # why roar ended the command early (time limit, cancel)

    @property
    def duration(self) -> float:
        return (self.job.ended_at or self.job.started_at) - self.job.started_at


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


def _journal_path(project: Project, uid: str) -> Path:
    """Where the command's processes tell this job what its tracer cannot see."""
    journals = project.roar_dir / "journals"
    journals.mkdir(exist_ok=True)
    return journals / f"{uid}.jsonl"


def _filters(
    root: Path, config: Config, git: GitState | None, internal_dirs: tuple[str, ...] = ()
) -> Filters:
    tracked: Container[str] = frozenset()
    if git is not None and not config.flag("output.track_repo_files"):
        tracked = _TrackedFiles(git.root)
    tmp = {"/tmp", "/var/tmp"}
    if os.environ.get("TMPDIR"):
        tmp.add(os.path.abspath(os.environ["TMPDIR"]))
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
    )


def _hash_all(
    store: Store, classified: Classified, stat_time: int, notes: list[str]
) -> dict[str, PathDigest]:
    """Hash every input and output, from the stats classify took; a file that vanished
    since is left out with a note."""
    hasher = Hasher(store)
    paths = [*classified.inputs, *classified.outputs]
    try:
        return hasher.hash_stated_files({path: classified.stats[path] for path in paths}, stat_time)
    except HashError:
        digests: dict[str, PathDigest] = {}
        for path in paths:
            try:
                digests[path] = hasher.hash_paths([path])[0]
            except HashError as exc:
                notes.append(f"not recorded: {exc}")
        return digests


def _relative(root: Path, path: str) -> str:
    """Paths inside the project are stored relative to it (portable to a worktree)."""
    prefix = str(root) + os.sep
    return path[len(prefix) :] if path.startswith(prefix) else path


def _refs(root: Path, paths: Sequence[str], digests: Mapping[str, PathDigest]) -> list[FileRef]:
    # A job can hold thousands of files: the prefix and the clock are read once.
    prefix = str(root) + os.sep
    cut = len(prefix)
    now = time.time()
    refs = []
    for path in paths:
        digest = digests.get(path)
        if digest is not None:
            relative = path[cut:] if path.startswith(prefix) else path
            refs.append(FileRef(relative, Artifact(digest.hash, digest.size, "file", now)))
    return refs


def _environment(
    result: TraceResult, environ: Mapping[str, str], sources: list[str], index_cache: Path
) -> dict[str, Any]:
    seen = list(result.log.paths)
    index = PackageIndex(index_cache)
    packages = index.distributions(seen)
    sites = index.sites_of(seen)
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


def run_job(
    project: Project,
    config: Config,
    request: RunRequest,
    *,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
    workspace: Path | None = None,
    control: StepControl | None = None,
) -> RunOutcome:
    """Trace `request.argv` to completion and record it; the command's failure is data.

    `workspace` is the tree the command works in when it is not the project itself (a
    reproduction's worktree): paths are recorded relative to it, and its git state is
    captured, while the record goes to the project's store. `control` bounds an unattended
    run (time limit, cancel switch); roar's own signals are forwarded only without one.
    """
    env = dict(os.environ if environ is None else environ)
    root = (workspace or project.root).resolve()
    workdir = str((cwd or Path.cwd()).resolve())
    check_command(request.argv, workdir, env)
    tracer, notes = choose_tracer(
        request.tracer, project.root, project.roar_dir / "tracer-probe.json"
    )
    git = capture_git_state(root)
    # fail before running, not after an hour of training
    store = project.open_store(config, defer_checkpoints=True)
    checkpoint = _background_checkpoint(project, config)  # while the command runs
    try:
        started, started_ns = time.time(), time.time_ns()
        # Tasks (`@roar.task`) inside the command name this uid; record_job adopts them.
        uid = new_job_uid()
        journal_path = _journal_path(project, uid)
        child_env = {**env, PARENT_UID_ENV: uid, JOURNAL_ENV: str(journal_path)}
        try:
            result = tracer.run(request.argv, cwd=workdir, env=child_env, control=control)
        finally:
            journal = read_journal(journal_path)
            journal_path.unlink(missing_ok=True)
        ended = time.time()
        notes.extend(result.notes)
        told = told_files(journal)
        filters = _filters(root, config, git, told.internal_dirs)
        stat_time = time.time_ns()  # before classify stats the files (racy-clean check)
        classified: Classified = classify(result.log, filters, started_ns)
        digests = _hash_all(store, classified, stat_time, notes)
        inputs = merge_refs(_refs(root, classified.inputs, digests), told.reads, root)
        outputs = merge_refs(_refs(root, classified.outputs, digests), told.writes, root)
        patch_hash = None
        if git is not None and git.patch:
            patch_hash = ObjectStore(project.objects_dir).put_bytes(git.patch)
        spec = JobSpec(
            kind=request.kind,
            step=request.name or step_name(request.argv),
            command=request.argv,
            cwd=_relative(root, workdir) if workdir != str(root) else ".",
            started_at=started,
            ended_at=ended,
            exit_code=result.exit_code,
            git_commit=git.commit if git else None,
            git_branch=git.branch if git else None,
            git_dirty=git.dirty if git else None,
            git_remote=git.remote if git else None,
            patch_hash=patch_hash,
            env=_environment(
                result,
                env,
                [_relative(root, p) for p in classified.source_reads],
                project.roar_dir / "package-index.json",
            ),
            host=capture_host(),
            trace_coverage=result.coverage,
            notes=_job_note(result.signal, result.stopped),
            reproduces_job=request.reproduces,
        )
        job = store.record_job(spec, inputs, outputs, uid=uid)
        notes += collect_for_job(
            store, project.objects_dir, config, request.collect_sources, root, job.id, inputs
        )
    finally:
        store.close()
        checkpoint.join()
    if not inputs and not outputs:
        notes.append(
            f"the command read and wrote no files that roar records (tracer: {result.tracer})"
        )
    return RunOutcome(
        job,
        result.exit_code,
        result.signal,
        inputs,
        outputs,
        result.tracer,
        notes,
        result.stopped,
    )


def _background_checkpoint(project: Project, config: Config) -> BackgroundCheckpoint:
    """Fold the SQLite store's log on a thread (store/wal.py); PostgreSQL needs nothing."""
    url = project.store_url(config)
    if url.kind != "sqlite":
        return BackgroundCheckpoint(None)
    return BackgroundCheckpoint(url.sqlite_path)


def _job_note(signum: int | None, stopped: str | None) -> str | None:
    if stopped is not None:
        return f"stopped by roar: {stopped}"
    if signum is None:
        return None
    import signal

    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"signal {signum}"
    return f"interrupted by {name}"
