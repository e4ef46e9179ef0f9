"""Run a command under a tracer and record it: one job, its files, code and environment."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from roar.capture.git_state import PendingGitState, start_git_capture
from roar.capture.journal import JOURNAL_ENV, read_journal
from roar.child_env import journal_file
from roar.config import Config
from roar.errors import RoarError
from roar.models import FileRef, Job, JobSpec
from roar.named_tuple import NamedTuple
from roar.project import Project
from roar.run.command import check_command, step_name
from roar.run.early import EarlyHasher
from roar.run.launch import Launched
from roar.store import PARENT_UID_ENV, new_job_uid
from roar.store.wal import BackgroundCheckpoint
from roar.trace.base import StepControl
from roar.trace.choose import choose_tracer
from roar.trace.probe_cache import PROBE_FILE
from roar.vcs.git import Git

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from roar.models import JobKind
    from roar.trace.choose import TracerName

__all__ = ["RunOutcome", "RunRequest", "run_job", "step_name"]


class RunRequest(NamedTuple):
    argv: tuple[str, ...]
    kind: JobKind = "run"
    name: str | None = None
    tracer: TracerName = "auto"
    reproduces: int | None = None  # the job this run replays (kind "reproduce")
    collect_sources: bool | None = None  # copy source inputs to .roar/objects; None: config


class RunOutcome:
    """What `run_job` recorded, and how the command ended."""

    def __init__(
        self,
        job: Job,
        exit_code: int,
        signal: int | None,
        inputs: list[FileRef],
        outputs: list[FileRef],
        tracer: str,
        notes: list[str] | None = None,
        stopped: str | None = None,  # why roar ended the command early (time limit, cancel)
    ) -> None:
        self.job, self.exit_code, self.signal = job, exit_code, signal
        self.inputs, self.outputs, self.tracer = inputs, outputs, tracer
        self.notes: list[str] = [] if notes is None else notes
        self.stopped = stopped

    def __repr__(self) -> str:
        return (
            f"RunOutcome(job=@{self.job.id}, exit_code={self.exit_code}, "
            f"inputs={len(self.inputs)}, outputs={len(self.outputs)}, tracer={self.tracer!r})"
        )

    @property
    def duration(self) -> float:
        return (self.job.ended_at or self.job.started_at) - self.job.started_at


def _journal_path(project: Project, uid: str) -> Path:
    """Where the command's processes tell this job what its tracer cannot see."""
    return Path(journal_file(str(project.roar_dir), uid))


def _load_recording() -> None:
    """Import what recording the job needs; run_job has it done while the command runs."""
    import roar.objects
    import roar.run.collect
    import roar.run.recording  # noqa: F401


def _early_hasher(project: Project, config: Config, root: Path) -> EarlyHasher | None:
    """Big inputs and outputs hashed while the command runs (run/early.py), the store's
    cache asked first on a connection of the hasher's own; None when switched off."""
    if not config.flag("hash.early"):
        return None

    def make_accept() -> Callable[[str, bool], bool]:
        from roar.run.recording import early_filter

        return early_filter(root, config)

    return EarlyHasher(make_accept, lambda: project.open_store(config))


def run_job(
    project: Project,
    config: Config,
    request: RunRequest,
    *,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
    workspace: Path | None = None,
    control: StepControl | None = None,
    pending_git: PendingGitState | None = None,
    launched: Launched | None = None,
) -> RunOutcome:
    """Trace `request.argv` to completion and record it; the command's failure is data.

    `workspace` is the tree the command works in when it is not the project itself (a
    reproduction's worktree): paths are recorded relative to it, and its git state is
    captured, while the record goes to the project's store. `control` bounds an unattended
    run (time limit, cancel switch); roar's own signals are forwarded only without one.
    `pending_git`: the git state as a caller started reading it, earlier still (the CLI
    does, before its imports); used when it reads the work tree this job runs in, and
    closed here in any case. `launched`: the command as the CLI started it already, held
    at its first change to a file (run/launch.py); adopted here, or ended if this run
    fails before it is let go.
    """
    env = dict(os.environ if environ is None else environ)
    root = (workspace or project.root).resolve()
    workdir = str((cwd or Path.cwd()).resolve())
    if launched is not None:
        _check_adoptable(launched, project, workdir, request, workspace, control)
    try:
        # git runs beside the checks and the store's opening, on a core they leave free
        pending_git = _git_capture_for(root, pending_git)
        try:
            if launched is None:
                check_command(request.argv, workdir, env)
                tracer, notes = choose_tracer(
                    request.tracer, project.root, project.roar_dir / PROBE_FILE
                )
            else:
                tracer, notes = launched.running.tracer, []
            # fail before running (or before a command started early changes a file),
            # not after an hour of training
            store = project.open_store(config, defer_checkpoints=True)
        except BaseException:
            pending_git.close()
            raise
        try:
            git = pending_git.result()
        except BaseException:
            store.close()
            raise
    except BaseException:
        if launched is not None:
            launched.running.abort()
        raise
    checkpoint = _background_checkpoint(project, config)  # while the command runs
    early: EarlyHasher | None = None
    try:
        if launched is None:
            started, started_ns = time.time(), time.time_ns()
            # Tasks (`@roar.task`) inside the command name this uid; record_job adopts them.
            uid = new_job_uid()
            journal_path = _journal_path(project, uid)
        else:  # its environment names them already
            started, started_ns = launched.started, launched.started_ns
            uid, journal_path = launched.uid, Path(launched.journal)
        try:
            early = _early_hasher(project, config, root)
        except BaseException:
            if launched is not None:
                launched.running.abort()
            raise
        try:
            if launched is None:
                result = tracer.run(
                    request.argv,
                    cwd=workdir,
                    env={**env, PARENT_UID_ENV: uid, JOURNAL_ENV: str(journal_path)},
                    control=control,
                    meanwhile=_load_recording,
                    opened=None if early is None else early.opened,
                )
            else:
                if early is not None:
                    launched.running.attach(early.opened)
                # the git state is read and the store is open: the command may change files
                result = launched.running.finish(_load_recording)
        except BaseException:
            if early is not None:
                early.abandon()
            journal_path.unlink(missing_ok=True)
            raise
        early_digests = {} if early is None else early.finish()
        known = {} if early is None else early.known()
        journal = read_journal(journal_path)
        journal_path.unlink(missing_ok=True)
        ended = time.time()
        notes.extend(result.notes)
        from roar.objects import ObjectStore
        from roar.run.collect import collect_for_job
        from roar.run.recording import relative, what_to_record

        recording = what_to_record(
            store,
            config,
            root,
            git,
            result,
            journal,
            started_ns=started_ns,
            environ=env,
            package_index=project.roar_dir / "package-index.json",
            notes=notes,
            early=early_digests,
            known=known,
            tailed=tuple if early is None else early.tailed,
        )
        inputs, outputs = recording.inputs, recording.outputs
        patch_hash = None
        if git is not None and git.patch:
            patch_hash = ObjectStore(project.objects_dir).put_bytes(git.patch)
        spec = JobSpec(
            kind=request.kind,
            step=request.name or step_name(request.argv),
            command=request.argv,
            cwd=relative(root, workdir) if workdir != str(root) else ".",
            started_at=started,
            ended_at=ended,
            exit_code=result.exit_code,
            git_commit=git.commit if git else None,
            git_branch=git.branch if git else None,
            git_dirty=git.dirty if git else None,
            git_remote=git.remote if git else None,
            patch_hash=patch_hash,
            env=recording.environment,
            host=recording.host,
            trace_coverage=result.coverage,
            notes=_job_note(result.signal, result.stopped),
            reproduces_job=request.reproduces,
        )
        job = store.record_job(spec, inputs, outputs, uid=uid)
        notes += collect_for_job(
            store, project.objects_dir, config, request.collect_sources, root, job.id, inputs
        )
    finally:
        if early is not None:
            early.tailed()  # a failure after finish(): its tails' rest is read, files closed
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


def _check_adoptable(
    launched: Launched,
    project: Project,
    workdir: str,
    request: RunRequest,
    workspace: Path | None,
    control: StepControl | None,
) -> None:
    """A command started early is this job's only if it is the same command, in the same
    directory and project, run the way this job would run it."""
    same = (
        launched.argv == tuple(request.argv)
        and launched.workdir == workdir
        and launched.root == str(project.root.resolve())
        and request.tracer in ("auto", "seccomp")
        and workspace is None
        and control is None
    )
    if not same:
        launched.running.abort()
        raise RoarError(
            "internal error: the command started early is not this job's; run it again "
            "with ROAR_EARLY_START=0 and report the command"
        )


def _git_capture_for(root: Path, started: PendingGitState | None) -> PendingGitState:
    """`started` when it reads the work tree holding `root`, else a capture started now."""
    if started is not None:
        found = Git.discover(root)
        if started.root == (None if found is None else found.root):
            return started
        started.close()
    return start_git_capture(root)


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
