"""The side effects of a reproduction: worktree, sources, running the steps, verifying.

The user's checkout is only read: its HEAD, branch and tracked files never change. The
single exception is putting verified outputs back at their recorded paths where they are
missing (or, with `force`, where they hold other content).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from roar.config import Config
from roar.errors import HashError, ReproduceError
from roar.hashing import Hasher
from roar.lineage import ArtifactTarget, JobTarget, load_lineage, resolve_ref
from roar.models import Job
from roar.objects import ObjectStore
from roar.project import Project
from roar.reproduce.plan import Plan, PlanStep, Source, make_plan
from roar.run import RunRequest, run_job
from roar.store import Store
from roar.trace.choose import TracerName
from roar.vcs.git import Git

__all__ = ["ReproduceOptions", "ReproduceReport", "StepResult", "load_plan", "reproduce"]


def _builds_at(store: Store, commit: str | None) -> list[Job]:
    """The newest successful build job per step recorded at `commit`."""
    if commit is None:
        return []
    newest: dict[str, Job] = {}
    for job in store.list_jobs():  # newest first
        if job.kind == "build" and job.git_commit == commit and job.exit_code == 0:
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
    graph = load_lineage(store, ArtifactTarget(store.get_artifact(digest)), "up", None)
    target_job = graph.jobs[max(producers)]
    return make_plan(graph, digest, target_job, _builds_at(store, target_job.git_commit))


SourceState = str  # "in place", "at its path", "collected", "missing", "changed"


def source_status(
    plan: Plan, project_root: Path, objects: ObjectStore, hasher: Hasher
) -> dict[Source, SourceState]:
    """Where each source input can come from, by hash."""
    found: dict[Source, SourceState] = {}
    for source in plan.sources:
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


@dataclass(frozen=True)
class ReproduceOptions:
    workdir: Path | None = None
    keep: bool = False
    force: bool = False
    tracer: TracerName = "auto"


@dataclass
class StepResult:
    step: PlanStep
    exit_code: int
    reproduced_job: int
    outputs: list[tuple[str, str, str | None]]  # (path, expected, got)

    @property
    def matches(self) -> bool:
        return self.exit_code == 0 and all(e == g for _, e, g in self.outputs)


@dataclass
class ReproduceReport:
    plan: Plan
    workdir: Path
    steps: list[StepResult] = field(default_factory=list)
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
            "this project is not in a git repository, so there is no commit to check out; "
            "reproducing in place is not supported yet"
        )
    return git


def _place_sources(
    plan: Plan, project: Project, workspace: Path, states: dict[Source, SourceState]
) -> None:
    objects = ObjectStore(project.objects_dir)
    for source, state in states.items():
        if os.path.isabs(source.path):
            continue  # outside the project: used where it is
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


def reproduce(
    project: Project,
    config: Config,
    store: Store,
    plan: Plan,
    options: ReproduceOptions,
    progress: Callable[[str], None] = lambda _line: None,
    states: dict[Source, SourceState] | None = None,
) -> ReproduceReport:
    """Replay `plan` in a fresh worktree and compare every output with the record.

    `states` is `source_status` of the plan when the caller already has it (shown it).
    """
    git = _git_for(project)
    if plan.commit is None:
        raise ReproduceError("the target's job recorded no git commit; it ran outside git")
    if not git.has_commit(plan.commit):
        raise ReproduceError(
            f"the recorded commit {plan.commit[:12]} is not in this repository "
            "(fetch it, or reproduce in the clone where it was made)"
        )
    hasher = Hasher(store)
    if states is None:
        states = source_status(plan, project.root, ObjectStore(project.objects_dir), hasher)
    _check_sources(states)
    patch = None
    if plan.patch_hash is not None:
        objects = ObjectStore(project.objects_dir)
        if not objects.has(plan.patch_hash):
            raise ReproduceError(f"the recorded dirty-tree patch {plan.patch_hash[:12]} is gone")
        patch = objects.get_bytes(plan.patch_hash)
    workdir = options.workdir or project.roar_dir / "reproduce" / time.strftime("%Y%m%d-%H%M%S")
    if workdir.exists() and any(workdir.iterdir()):
        raise ReproduceError(f"{workdir} exists and is not empty; choose another --workdir")
    worktree = git.add_worktree(workdir, plan.commit)
    report = ReproduceReport(plan, workdir)
    try:
        if patch:
            worktree.apply_patch(patch)
        workspace = workdir / project.root.resolve().relative_to(git.root.resolve())
        _place_sources(plan, project, workspace, states)
        for step in plan.all_steps:
            progress(f"@{step.job.id} {step.job.step}: {' '.join(step.job.command)}")
            report.steps.append(_run_step(project, config, hasher, workspace, step, options))
            if report.steps[-1].exit_code != 0:
                break
        _restore_outputs(project, hasher, workspace, report, options.force)
    finally:
        if not options.keep:
            git.remove_worktree(workdir)
    return report


def _run_step(
    project: Project,
    config: Config,
    hasher: Hasher,
    workspace: Path,
    step: PlanStep,
    options: ReproduceOptions,
) -> StepResult:
    job = step.job
    request = RunRequest(
        job.command, kind="reproduce", name=job.step, tracer=options.tracer, reproduces=job.id
    )
    outcome = run_job(project, config, request, cwd=workspace / job.cwd, workspace=workspace)
    outputs = []
    for path, expected in step.outputs:
        absolute = path if os.path.isabs(path) else str(workspace / path)
        outputs.append((path, expected, _hash_or_none(hasher, absolute)))
    return StepResult(step, outcome.exit_code, outcome.job.id, outputs)


def _restore_outputs(
    project: Project, hasher: Hasher, workspace: Path, report: ReproduceReport, force: bool
) -> None:
    """Verified outputs go back to the user's checkout where they are missing."""
    for result in report.steps:
        for path, expected, got in result.outputs:
            if got != expected or os.path.isabs(path):
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
