"""`roar history STEP` and `roar diff REF_A REF_B`."""

from __future__ import annotations

from typing import Any

import click

from roar.cli.context import CliState, pass_state
from roar.cli.output import echo_json
from roar.errors import UsageError
from roar.lineage import ArtifactTarget, JobTarget, resolve_ref
from roar.lineage.compare import Difference, first_forks, job_differences


def _short(value: Any) -> str:
    if isinstance(value, str) and len(value) == 64:
        return value[:12]
    if isinstance(value, (list, tuple)):
        return " ".join(map(str, value))
    return "-" if value is None else str(value)


def _rows(differences: list[Difference]) -> list[dict[str, Any]]:
    return [{"field": d.field, "a": d.a, "b": d.b} for d in differences]


@click.command()
@click.argument("step")
@click.option("-n", "limit", type=click.IntRange(min=1), default=10, show_default=True,
              help="How many runs to show.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of runs.")
@pass_state
def history(state: CliState, step: str, limit: int, as_json: bool) -> None:
    """Runs of STEP over time, each with what changed since the run before it."""
    project = state.project()
    with project.open_store(state.config(project)) as store:
        jobs = store.list_jobs(limit + 1, step=step)
        if not jobs:
            raise UsageError(f"no runs of step {step!r}; `roar log` lists the steps")
        runs = []
        for index, job in enumerate(jobs[:limit]):
            before = jobs[index + 1] if index + 1 < len(jobs) else None
            changes = job_differences(store, before, job) if before else []
            runs.append((job, before, changes))
    if as_json:
        payload = [
            {"id": j.id, "uid": j.uid, "exit_code": j.exit_code, "started_at": j.started_at,
             "previous": p.id if p else None, "changes": _rows(c)}
            for j, p, c in runs
        ]  # fmt: skip
        echo_json(payload)
        return
    for job, before, changes in runs:
        status = "ok" if job.exit_code == 0 else f"exit {job.exit_code}"
        click.echo(f"@{job.id} {job.step} ({job.uid}) {status}")
        if before is None:
            click.echo("    first recorded run")
        elif not changes:
            click.echo(f"    same as @{before.id}")
        for d in changes:
            click.echo(f"    {d.field}: {_short(d.a)} -> {_short(d.b)}")


@click.command()
@click.argument("ref_a")
@click.argument("ref_b")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def diff(state: CliState, ref_a: str, ref_b: str, as_json: bool) -> None:
    """Two jobs: what differs. Two artifacts: the first jobs where their lineages part."""
    project = state.project()
    with project.open_store(state.config(project)) as store:
        a = resolve_ref(store, ref_a, project_root=project.root, cwd=state.cwd)
        b = resolve_ref(store, ref_b, project_root=project.root, cwd=state.cwd)
        if isinstance(a, JobTarget) and isinstance(b, JobTarget):
            changes = job_differences(store, a.job, b.job)
            if as_json:
                echo_json({"type": "jobs", "differences": _rows(changes)})
                return
            click.echo(f"@{a.job.id} vs @{b.job.id}: " + ("no differences" if not changes else ""))
            for d in changes:
                click.echo(f"    {d.field}: {_short(d.a)} | {_short(d.b)}")
            return
        if not (isinstance(a, ArtifactTarget) and isinstance(b, ArtifactTarget)):
            raise UsageError("diff compares two jobs or two artifacts, not one of each")
        forks = first_forks(store, a.artifact.hash, b.artifact.hash)
    if as_json:
        payload = [{"a": f.a, "b": f.b, "differences": _rows(list(f.differences))} for f in forks]
        echo_json({"type": "artifacts", "forks": payload})
        return
    if not forks:
        click.echo("same content: identical artifacts")
    for fork in forks:
        click.echo(f"lineages part at {fork.a} vs {fork.b}:")
        for d in fork.differences:
            click.echo(f"    {d.field}: {_short(d.a)} | {_short(d.b)}")
