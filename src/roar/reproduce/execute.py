"""The side effects of a reproduction: worktree, sources, running the steps, verifying.

The user's checkout is only read: its HEAD, branch and tracked files never change. The
single exception is putting verified outputs back at their recorded paths where they are
missing (or, with `force`, where they hold other content).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from roar.capture.packages import PackageIndex
from roar.config import Config
from roar.errors import HashError, ReproduceError
from roar.hashing import Hasher
from roar.lineage import ArtifactTarget, JobTarget, load_lineage, resolve_ref
from roar.models import Job, is_value_path
from roar.objects import ObjectStore
from roar.project import Project
from roar.reproduce.plan import (
    Plan,
    PlanStep,
    Source,
    make_plan,
    package_differences,
    task_unreplayable,
)
from roar.reproduce.schedule import Finished, run_steps
from roar.run import RunRequest, run_job
from roar.store import Store
from roar.trace.base import StepControl
from roar.vcs.git import Git

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from roar.trace.choose import TracerName

__all__ = [
    "ReproduceOptions",
    "ReproduceReport",
    "StepResult",
    "check_can_run",
    "environment_differences",
    "load_plan",
    "reproduce",
    "source_status",
]


def _builds_at(store: Store, commit: str | None) -> list[Job]:
    """The newest successful build job per step recorded at `commit`."""
    if commit is None:
        return []
    newest: dict[str, Job] = {}
    for job in store.successful_builds_at(commit):  # newest first
        newest.setdefault(job.step, job)
    return list(newest.values())


def load_plan(store: Store, ref: str, *, project_root: Path, cwd: Path) -> Plan:
    """Resolve REF (an artifact, or a job: its first output) and plan what made it."""
    target = resolve_ref(store, ref, project_root=project_root, cwd=cwd)
    if isinstance(target, JobTarget):
        outputs = store.job_outputs(target.job.id)
        if not outputs:
            raise ReproduceError(f"job @{target.job.id} recorded no outputs to reproduce")
        digest = outputs[0].artifact.hash
    else:
        assert isinstance(target, ArtifactTarget)
        digest = target.artifact.hash
    producers, _ = store.jobs_touching(digest)
    if not producers:
        raise ReproduceError(
            f"no recorded job produced {ref} ({digest[:12]}); it is a source: "
            "there is nothing to reproduce"
        )
    # Replay what first made it, not an earlier reproduction of that (which would make the
    # plan a replay of a replay); walks from there only see the jobs before it.
    jobs = store.jobs_by_ids(producers)
    originals = [p for p in producers if jobs[p].kind != "reproduce"] or producers
    if isinstance(target, ArtifactTarget) and target.path is not None:
        # the same content may have been written at several paths (a copy, a move): the
        # job that wrote it where the user named it is the one meant
        _read, written = store.files_of_jobs(originals)  # one query, however many
        at_path = [job_id for job_id, file in written if file.path == target.path]
        originals = at_path or originals
    target_job = jobs[max(originals)]
    graph = load_lineage(store, JobTarget(target_job), "up", None)
    return make_plan(graph, digest, target_job, _builds_at(store, target_job.git_commit))


SourceState = str  # "in place", "at its path", "collected", "missing", "changed"


def source_status(
    plan: Plan, project_root: Path, objects: ObjectStore, hasher: Hasher
) -> dict[Source, SourceState]:
    """Where each source input can come from, by hash."""
    found: dict[Source, SourceState] = {}
    for source in plan.sources:
        if is_value_path(source.path):  # a task's value: only ever in the object store
            found[source] = "collected" if objects.has(source.digest) else "missing"
            continue
        path = source.path if os.path.isabs(source.path) else str(project_root / source.path)
        state = "missing"
        if os.path.isfile(path):
            try:
                same = hasher.hash_paths([path])[0].hash == source.digest
            except HashError:
                same = False
            state = "at its path" if same else "changed"
        if state != "at its path" and objects.has(source.digest):
            state = "collected"
        found[source] = state
    return found


def environment_differences(plan: Plan, package_index: Path) -> list[str]:
    """Python and package differences between the record and the environments now."""
    from importlib import metadata

    jobs = [step.job for step in plan.all_steps]
    index = PackageIndex(package_index)
    sites = {site for job in jobs for site in (job.env.get("package_sites") or {}).values()}
    installed_in = {site: index.installed(site) for site in sorted(sites)}
    index.save()
    here: dict[str, str] = {}
    if any(
        set(job.env.get("packages", {})) - set(job.env.get("package_sites") or {}) for job in jobs
    ):
        here = {d.metadata["Name"]: d.version for d in metadata.distributions()}
    versions: dict[str, str | None] = {}
    pythons = {}
    for job in jobs:
        interpreter = _interpreter(job.command)
        if interpreter not in versions:
            versions[interpreter] = _python_version(interpreter)
        pythons[job.id] = (interpreter, versions[interpreter])
    return package_differences(jobs, installed_in, here, pythons)


_PYTHON_NAME = re.compile(r"python(\d+(\.\d+)?)?$")


def _interpreter(command: Sequence[str]) -> str:
    """The Python a step starts: its program when that is a python, else PATH's python3."""
    if command and _PYTHON_NAME.match(os.path.basename(command[0])):
        return command[0]
    return "python3"


def _python_version(interpreter: str) -> str | None:
    """X.Y.Z of `interpreter` as the step would find it now, or None if there is none."""
    found = shutil.which(interpreter)
    if found is None:
        return None
    try:
        proc = subprocess.run(
            [found, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
            capture_output=True, text=True, timeout=10, check=False,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    version = proc.stdout.strip()
    return version if proc.returncode == 0 and version else None


@dataclass(frozen=True)
class ReproduceOptions:
    workdir: Path | None = None
    keep: bool = False
    force: bool = False
    tracer: TracerName = "auto"
    jobs: int = 1  # steps run at once, when the plan allows
    step_timeout: float | None = None  # seconds; a step still running then is ended
    in_place: bool = False  # outside git only: run in the project directory itself


@dataclass
class StepResult:
    step: PlanStep
    exit_code: int
    reproduced_job: int
    outputs: list[tuple[str, str, str | None]]  # (path, expected, got)
    stopped: str | None = None  # why roar ended it ("timed out after 60 s")
    log: Path | None = None  # its stdout and stderr, when steps ran side by side

    @property
    def matches(self) -> bool:
        return self.exit_code == 0 and all(e == g for _, e, g in self.outputs)


@dataclass
class ReproduceReport:
    plan: Plan
    workdir: Path
    in_place: bool = False
    steps: list[StepResult] = field(default_factory=list)  # in plan order
    not_run: list[PlanStep] = field(default_factory=list)  # after a step failed
    restored: list[str] = field(default_factory=list)
    kept_different: list[str] = field(default_factory=list)

    @property
    def first_mismatch(self) -> StepResult | None:
        return next((s for s in self.steps if not s.matches), None)

    @property
    def target_matches(self) -> bool:
        target = self.plan.target
        return any(e == g == target for s in self.steps for _, e, g in s.outputs)


def _git_for(project: Project) -> Git:
    git = Git.discover(project.root)
    if git is None:
        raise ReproduceError(
            "the target was recorded at a git commit, but this project is no longer in a git "
            "repository; reproduce it in a clone of the repository"
        )
    return git


def _place_sources(
    plan: Plan, project: Project, workspace: Path, states: dict[Source, SourceState]
) -> None:
    """Copy every source into `workspace` by hash; in place, only the missing ones."""
    objects = ObjectStore(project.objects_dir)
    in_place = workspace.resolve() == project.root.resolve()
    for source, state in states.items():
        if os.path.isabs(source.path) or (in_place and state == "at its path"):
            continue  # outside the project, or already right where it is: used there
        if is_value_path(source.path):
            continue  # a task's value: its replay loads it from the object store
        destination = workspace / source.path
        destination.parent.mkdir(parents=True, exist_ok=True)
        origin = project.root / source.path if state == "at its path" else None
        if origin is None:
            origin = objects.path_for(source.digest)
        if destination.exists():
            destination.unlink()
        shutil.copyfile(origin, destination)


def _check_sources(states: dict[Source, SourceState]) -> None:
    unusable = [(s, state) for s, state in states.items() if state in ("missing", "changed")]
    if unusable:
        names = ", ".join(f"{s.path} ({s.digest[:12]}, {state})" for s, state in unusable)
        raise ReproduceError(
            f"source input(s) not available with the recorded content: {names}; restore them, "
            "or record with `roar run --collect-sources` next time"
        )


def check_can_run(plan: Plan, options: ReproduceOptions) -> None:
    """A clean worktree needs a recorded commit; in place is only for the jobs without one;
    a task (`@roar.task`) is called again only where its function can be imported."""
    for step in plan.all_steps:
        job = step.job
        why = task_unreplayable(job)
        if why is not None:
            raise ReproduceError(
                f"@{job.id} {job.step} is a Python task that cannot be called again: {why}"
            )
    if plan.commit is None and not options.in_place:
        raise ReproduceError(
            "the target's job ran outside git, so there is no commit to check out into a clean "
            "worktree; pass --in-place to run the steps in this project directory itself "
            "(its outputs are overwritten there)"
        )
    if plan.commit is not None and options.in_place:
        raise ReproduceError(
            f"--in-place is only for jobs recorded outside git; this one ran at commit "
            f"{plan.commit[:12]} and is reproduced in a clean worktree of it (drop --in-place)"
        )


def _recorded_patch(project: Project, plan: Plan) -> bytes | None:
    if plan.patch_hash is None:
        return None
    objects = ObjectStore(project.objects_dir)
    if not objects.has(plan.patch_hash):
        raise ReproduceError(f"the recorded dirty-tree patch {plan.patch_hash[:12]} is gone")
    return objects.get_bytes(plan.patch_hash)


def reproduce(
    project: Project,
    config: Config,
    store: Store,
    plan: Plan,
    options: ReproduceOptions,
    progress: Callable[[str], None] = lambda _line: None,
    states: dict[Source, SourceState] | None = None,
) -> ReproduceReport:
    """Replay `plan` in a fresh worktree (or in place) and compare every output with the record.

    `states` is `source_status` of the plan when the caller already has it (shown it).
    Everything that can refuse is checked before the first step runs.
    """
    check_can_run(plan, options)
    git = None
    if plan.commit is not None:
        git = _git_for(project)
        if not git.has_commit(plan.commit):
            raise ReproduceError(
                f"the recorded commit {plan.commit[:12]} is not in this repository "
                "(fetch it, or reproduce in the clone where it was made)"
            )
    hasher = Hasher(store)
    if states is None:
        states = source_status(plan, project.root, ObjectStore(project.objects_dir), hasher)
    _check_sources(states)
    patch = _recorded_patch(project, plan)
    if git is None:
        return _run_plan(project, config, hasher, plan, options, progress, states, project.root)
    workdir = options.workdir or project.roar_dir / "reproduce" / time.strftime("%Y%m%d-%H%M%S")
    if workdir.exists() and any(workdir.iterdir()):
        raise ReproduceError(f"{workdir} exists and is not empty; choose another --workdir")
    assert plan.commit is not None
    worktree = git.add_worktree(workdir, plan.commit)
    try:
        if patch:
            worktree.apply_patch(patch)
        workspace = workdir / project.root.resolve().relative_to(git.root.resolve())
        return _run_plan(project, config, hasher, plan, options, progress, states, workspace)
    finally:
        if not options.keep:
            git.remove_worktree(workdir)


def _run_plan(
    project: Project,
    config: Config,
    hasher: Hasher,
    plan: Plan,
    options: ReproduceOptions,
    progress: Callable[[str], None],
    states: dict[Source, SourceState],
    workspace: Path,
) -> ReproduceReport:
    in_place = workspace == project.root
    report = ReproduceReport(plan, workspace, in_place)
    _place_sources(plan, project, workspace, states)
    results: dict[int, StepResult] = {}

    # Side by side, steps' output would interleave on the terminal: each gets a log file.
    logs = None
    if options.jobs > 1:
        logs = project.runs_dir / f"reproduce-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
        logs.mkdir(parents=True, exist_ok=True)
        progress(f"steps' output goes to {logs}/")

    def run_one(step: PlanStep, control: StepControl) -> Finished:
        result = _run_step(project, config, workspace, step, options, control, logs)
        results[step.job.id] = result
        return Finished(result.exit_code == 0, _summary(result))

    report.not_run = run_steps(
        plan.builds,
        plan.steps,
        run_one,
        jobs=options.jobs,
        timeout=options.step_timeout,
        progress=progress,
    )
    report.steps = [results[s.job.id] for s in plan.all_steps if s.job.id in results]
    if not in_place:
        _restore_outputs(project, hasher, workspace, report, options.force)
    return report


def _summary(result: StepResult) -> str:
    log = f" (output: {result.log})" if result.log is not None else ""
    if result.stopped:
        return f"stopped: {result.stopped}{log}"
    if result.exit_code != 0:
        return f"failed with exit {result.exit_code}{log}"
    same = sum(1 for _, expected, got in result.outputs if expected == got)
    return f"ok, {same} of {len(result.outputs)} outputs match"


def _log_path(logs: Path, step: PlanStep) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", step.job.step)[:40]
    return logs / f"{step.job.id}-{safe}.log"


def _run_step(
    project: Project,
    config: Config,
    workspace: Path,
    step: PlanStep,
    options: ReproduceOptions,
    control: StepControl,
    logs: Path | None,
) -> StepResult:
    job = step.job
    command, environ = job.command, None
    if job.kind == "task":  # the function called again, by roar's replay (tasks/replay.py)
        from roar.tasks.replay import REPLAY_PROJECT_ENV, REPLAY_WORKSPACE_ENV

        command = (sys.executable, "-m", "roar.tasks.replay", str(job.id))
        environ = {
            **os.environ,
            REPLAY_PROJECT_ENV: str(project.root),
            REPLAY_WORKSPACE_ENV: str(workspace),
        }
    request = RunRequest(
        command, kind="reproduce", name=job.step, tracer=options.tracer, reproduces=job.id
    )
    log = _log_path(logs, step) if logs is not None else None
    with contextlib.ExitStack() as stack:
        if log is not None:
            handle = stack.enter_context(open(log, "wb"))  # noqa: SIM115 - closed by the stack
            control = control.with_output(handle.fileno())
        outcome = run_job(
            project,
            config,
            request,
            cwd=workspace / job.cwd,
            environ=environ,
            workspace=workspace,
            control=control,
        )
    # The run hashed what it wrote; a file it did not write is hashed here, without the
    # shared store (this runs in a worker thread), in case it was already in place.
    written = {ref.path: ref.artifact.hash for ref in outcome.outputs}
    outputs = []
    for path, expected in step.outputs:
        got = written.get(path)
        if got is None:
            absolute = path if os.path.isabs(path) else str(workspace / path)
            got = _hash_or_none(Hasher(), absolute)
        outputs.append((path, expected, got))
    return StepResult(step, outcome.exit_code, outcome.job.id, outputs, outcome.stopped, log)


def _restore_outputs(
    project: Project, hasher: Hasher, workspace: Path, report: ReproduceReport, force: bool
) -> None:
    """Verified outputs go back to the user's checkout where they are missing."""
    objects = ObjectStore(project.objects_dir)
    for result in report.steps:
        for path, expected, got in result.outputs:
            if got != expected or os.path.isabs(path):
                continue
            if is_value_path(path):  # a task's value lives in the object store
                if objects.put_file(workspace / path, expected):
                    report.restored.append(path)
                continue
            destination = project.root / path
            if destination.exists():
                if _hash_or_none(hasher, str(destination)) == expected:
                    continue
                if not force:
                    report.kept_different.append(path)
                    continue
                destination.unlink()
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(workspace / path, destination)
            report.restored.append(path)


def _hash_or_none(hasher: Hasher, path: str) -> str | None:
    try:
        return hasher.hash_paths([path])[0].hash
    except HashError:
        return None
