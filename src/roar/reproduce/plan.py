"""What reproducing an artifact takes: a pure function of its recorded lineage.

Steps run in job order: a producer is always an earlier job (lineage follows time), so job
order is a topological order. Build steps recorded at the same commit come first. Every
input that no step of the plan produces is a source, which must be put in place by hash
before anything runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from roar.lineage.graph import LineageGraph
from roar.models import Job

__all__ = ["Plan", "PlanStep", "Source", "make_plan", "task_unreplayable"]


@dataclass(frozen=True)
class PlanStep:
    job: Job
    needs: tuple[int, ...]  # job ids of the plan whose outputs this step reads
    outputs: tuple[tuple[str, str], ...]  # (path, hash) it must write again


@dataclass(frozen=True)
class Source:
    path: str
    digest: str
    read_by: tuple[int, ...]


@dataclass(frozen=True)
class Plan:
    target: str  # artifact hash
    target_path: str
    commit: str | None
    patch_hash: str | None
    builds: tuple[PlanStep, ...]
    steps: tuple[PlanStep, ...]
    sources: tuple[Source, ...]
    warnings: tuple[str, ...]

    @property
    def all_steps(self) -> tuple[PlanStep, ...]:
        return (*self.builds, *self.steps)


def _step(graph: LineageGraph, job: Job, members: set[int]) -> PlanStep:
    needs = set()
    for path, digest in graph.inputs.get(job.id, []):
        producer = graph.producer(digest, before=job.id, path=path)
        if producer is not None and producer in members:
            needs.add(producer)
    return PlanStep(job, tuple(sorted(needs)), tuple(graph.outputs.get(job.id, [])))


def make_plan(graph: LineageGraph, target: str, target_job: Job, builds: Sequence[Job]) -> Plan:
    """The plan for `target`, made by `target_job`, from its upstream `graph`.

    `builds` are the build jobs recorded at the target job's commit (newest per step).
    """
    members = set(graph.jobs)
    steps = tuple(
        _step(graph, graph.jobs[j], members)
        for j in sorted(members)
        if graph.jobs[j].kind != "build"
    )
    build_jobs = {job.id: job for job in builds}
    build_jobs.update({j: graph.jobs[j] for j in members if graph.jobs[j].kind == "build"})
    build_steps = tuple(_step(graph, build_jobs[j], set()) for j in sorted(build_jobs))
    sources: dict[tuple[str, str], list[int]] = {}
    for step in steps:
        for path, digest in graph.inputs.get(step.job.id, []):
            if graph.producer(digest, before=step.job.id, path=path) is None:
                sources.setdefault((path, digest), []).append(step.job.id)
    warnings = [
        f"@{s.job.id} {s.job.step} was recorded at commit "
        f"{(s.job.git_commit or 'none')[:12]}, not {(target_job.git_commit or 'none')[:12]}; "
        "it runs at the target's commit"
        for s in steps
        if s.job.git_commit != target_job.git_commit
    ]
    warnings += [
        f"@{s.job.id} {s.job.step} exited {s.job.exit_code} when recorded"
        for s in steps
        if s.job.exit_code != 0
    ]
    warnings += [
        f"@{s.job.id} {s.job.step} is a Python task that --run cannot call again: {why}"
        for s in steps
        if (why := task_unreplayable(s.job)) is not None
    ]
    return Plan(
        target=target,
        target_path=_path_of(graph.outputs.get(target_job.id, []), target),
        commit=target_job.git_commit,
        patch_hash=target_job.patch_hash,
        builds=build_steps,
        steps=steps,
        sources=tuple(
            Source(path, digest, tuple(readers))
            for (path, digest), readers in sorted(sources.items())
        ),
        warnings=tuple(warnings),
    )


def _path_of(outputs: Sequence[tuple[str, str]], digest: str) -> str:
    return next((path for path, h in outputs if h == digest), digest[:12])


def package_differences(
    jobs: Sequence[Job],
    installed_in: Mapping[str, Mapping[str, str]],
    installed_here: Mapping[str, str],
    pythons: Mapping[int, tuple[str, str | None]],
) -> list[str]:
    """The environment differences that matter: Python and the packages the jobs used.

    `pythons` maps a job to the interpreter its command would start now and that
    interpreter's version (None: not found). A package is compared with what the site
    directory it was used from holds now (`installed_in`, by site); one recorded before
    sites were kept is compared with the environment roar runs in (`installed_here`).
    """
    found: list[str] = []
    for job in jobs:
        recorded = sorted(job.env.get("python_versions", []))
        if not recorded or job.id not in pythons:
            continue
        interpreter, now = pythons[job.id]
        if now is None:
            line = f"python {', '.join(recorded)} recorded, no {interpreter} found now"
        elif not any(now == v or now.startswith(f"{v}.") for v in recorded):
            line = f"python {', '.join(recorded)} recorded, {interpreter} is {now} now"
        else:
            continue
        if line not in found:
            found.append(line)
    for job in jobs:
        sites: Mapping[str, str] = job.env.get("package_sites") or {}
        for name, version in sorted(job.env.get("packages", {}).items()):
            site = sites.get(name)
            current = installed_in.get(site, {}) if site else installed_here
            now = current.get(name)
            if now != version:
                where = f"in {site}" if site else "here"
                line = f"{name} {version} recorded, {now or 'not installed'} {where}"
                if line not in found:
                    found.append(line)
    return found


def task_unreplayable(job: Job) -> str | None:
    """Why a task job's function cannot be imported again (tasks/replay.py), or None for
    any other job and a task that can be."""
    if job.kind != "task":
        return None
    from roar.tasks.replay import importable

    return importable(job.command[0] if job.command else "")
