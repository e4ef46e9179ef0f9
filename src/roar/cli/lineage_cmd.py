"""`roar show REF` and `roar trace REF`: one record, or its lineage."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

import click

from roar.cli.context import CliState, pass_state
from roar.cli.output import echo_json, echo_warning
from roar.lineage import ArtifactTarget, JobTarget, load_lineage, resolve_ref
from roar.lineage.render import to_dot, to_json, to_mermaid, to_tree
from roar.models import FileRef, JobSpec, moved_to
from roar.pathtext import for_display

_RENDER = {"tree": to_tree, "json": to_json, "dot": to_dot, "mermaid": to_mermaid}


def _when(timestamp: float | None) -> str:
    return (
        "-" if timestamp is None else dt.datetime.fromtimestamp(timestamp).isoformat(" ", "seconds")
    )


def _files(refs: list[FileRef], env: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """`env`: the job's, for where it renamed an input (models.moved_to)."""
    files = []
    for r in refs:
        entry: dict[str, Any] = {"path": r.path, "hash": r.artifact.hash, "size": r.artifact.size}
        moved = None if env is None else moved_to(env, r.path)
        if moved is not None:
            entry["moved_to"] = moved
        files.append(entry)
    return files


@click.command()
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@pass_state
def show(state: CliState, ref: str, as_json: bool) -> None:
    """Show a job (@N, uid prefix) or an artifact (hash prefix, or a path)."""
    project = state.project()
    with project.open_store(state.config(project)) as store:
        target = resolve_ref(store, ref, project_root=project.root, cwd=state.cwd)
        if isinstance(target, JobTarget):
            job = target.job
            doc: dict[str, Any] = {
                "type": "job",
                # JobSpec's fields, then id and uid: the order `show --json` always had
                **{
                    k: getattr(job, k)
                    for k in (*JobSpec._fields, "id", "uid")
                    if k not in {"env", "host", "command"}
                },
                "command": list(job.command),
                "params": job.env.get("params", {}),
                "description": job.env.get("task", {}).get("description"),
                "packages": job.env.get("packages", {}),
                "python_versions": job.env.get("python_versions", []),
                "host": dict(job.host),
                "inputs": _files(store.job_inputs(job.id), job.env),
                "outputs": _files(store.job_outputs(job.id)),
                "tags": [t.name for t in store.tags_of(f"job:{job.uid}")],
            }
        else:
            assert isinstance(target, ArtifactTarget)
            artifact = target.artifact
            producers, consumers = store.jobs_touching(artifact.hash)
            doc = {
                "type": "artifact",
                "hash": artifact.hash,
                "size": artifact.size,
                "kind": artifact.kind,
                "paths": store.paths_of(artifact.hash),
                "produced_by": producers,
                "consumed_by": consumers,
                "tags": [t.name for t in store.tags_of(artifact.hash)],
                "flagged": any(f.artifact_hash == artifact.hash for f in store.flags()),
            }
    if as_json:
        echo_json(doc)
    elif doc["type"] == "job":
        _print_job(doc)
    else:
        _print_artifact(doc)


def _print_job(doc: dict[str, Any]) -> None:
    status = "ok" if doc["exit_code"] == 0 else f"exit {doc['exit_code']}"
    click.echo(f"job @{doc['id']} ({doc['uid']})  {doc['kind']} {doc['step']}: {status}")
    click.echo(f"  command   {' '.join(doc['command'])}")
    if doc["description"]:
        click.echo(f"  about     {doc['description']}")
    if doc["params"]:
        click.echo(f"  params    {json.dumps(doc['params'], sort_keys=True)[:200]}")
    if doc["owner"]:
        click.echo(f"  owner     {doc['owner']}")
    if doc["parent_job"] is not None:
        click.echo(f"  parent    @{doc['parent_job']}")
    click.echo(f"  cwd       {doc['cwd']}")
    click.echo(f"  started   {_when(doc['started_at'])}   ended {_when(doc['ended_at'])}")
    dirty = " (dirty, patch " + str(doc["patch_hash"])[:12] + ")" if doc["git_dirty"] else ""
    click.echo(f"  git       {doc['git_commit'] or '-'} on {doc['git_branch'] or '-'}{dirty}")
    click.echo(f"  tracer    coverage {doc['trace_coverage']}")
    packages = ", ".join(f"{n}=={v}" for n, v in doc["packages"].items()) or "-"
    click.echo(f"  packages  {packages}")
    if doc["notes"]:
        click.echo(f"  notes     {doc['notes']}")
    for label in ("inputs", "outputs"):
        click.echo(f"  {label} ({len(doc[label])}):")
        for f in doc[label]:
            moved = f"  (moved to {for_display(f['moved_to'])})" if "moved_to" in f else ""
            click.echo(f"    {f['hash'][:12]}  {for_display(f['path'])}{moved}")


def _print_artifact(doc: dict[str, Any]) -> None:
    click.echo(f"artifact {doc['hash']}  {doc['kind']}, {doc['size']} bytes")
    click.echo(f"  paths        {', '.join(for_display(p) for p in doc['paths']) or '-'}")
    click.echo(f"  produced by  {', '.join(f'@{j}' for j in doc['produced_by']) or '- (a source)'}")
    click.echo(f"  consumed by  {', '.join(f'@{j}' for j in doc['consumed_by']) or '-'}")
    if doc["flagged"]:
        click.echo("  flagged")


@click.command()
@click.argument("ref")
@click.option("--down", is_flag=True, help="Downstream impact instead of upstream lineage.")
@click.option("--depth", type=click.IntRange(min=0), help="How many jobs away to go (0 = none).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(sorted(_RENDER)),
    default="tree",
    show_default=True,
    help="tree for people, json for programs, dot/mermaid for diagrams.",
)
@pass_state
def trace(state: CliState, ref: str, down: bool, depth: int | None, fmt: str) -> None:
    """What REF came from (or with --down, what it fed), job by job."""
    project = state.project()
    with project.open_store(state.config(project)) as store:
        target = resolve_ref(store, ref, project_root=project.root, cwd=state.cwd)
        graph = load_lineage(store, target, "down" if down else "up", depth)
    click.echo(_RENDER[fmt](graph))
    if fmt != "json":  # JSON carries them as "loops"
        for loop in graph.loops():
            echo_warning(
                f"{for_display(loop.path)} ({loop.digest[:12]}) is in its own lineage: "
                f"@{loop.read_by} read it and @{loop.written_by}, downstream of it, wrote it "
                "again; lineage follows time, so the walk stops at the earlier job"
            )
