"""`roar export REF`: a lineage graph as OpenLineage events, W3C PROV, DOT or Mermaid."""

from __future__ import annotations

from pathlib import Path

import click

from roar.cli.context import CliState, pass_state
from roar.errors import RoarError, UsageError
from roar.export import (
    files_namespace,
    missing_parents,
    openlineage_events,
    openlineage_text,
    project_namespace,
    prov_document,
    prov_json,
    prov_n,
)
from roar.fsutil import atomic_write_bytes
from roar.lineage import load_lineage, resolve_ref
from roar.lineage.render import to_dot, to_mermaid

FORMATS = ("openlineage", "prov-json", "prov-n", "dot", "mermaid")


def _check_format(ctx: click.Context, param: click.Parameter, value: str) -> str:
    # Checked here rather than by click.Choice so a typo costs one error line, not a usage page.
    if value not in FORMATS:
        raise UsageError(f"unknown export format {value!r}; choose one of: {', '.join(FORMATS)}")
    return value


@click.command()
@click.argument("ref")
@click.option("--down", is_flag=True, help="Export what REF fed instead of where it came from.")
@click.option("--depth", type=click.IntRange(min=0), help="How many jobs away to go (0 = none).")
@click.option(
    "--format",
    "fmt",
    required=True,
    metavar="[" + "|".join(FORMATS) + "]",
    callback=_check_format,
    help="openlineage: a JSON array of RunEvents (START and COMPLETE/FAIL per job); "
    "prov-json / prov-n: W3C PROV; dot / mermaid: diagrams.",
)
@click.option(
    "--ndjson",
    is_flag=True,
    help="With --format openlineage: one event per line instead of a JSON array.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file (atomically) instead of standard output.",
)
@pass_state
def export(
    state: CliState,
    ref: str,
    down: bool,
    depth: int | None,
    fmt: str,
    ndjson: bool,
    output: Path | None,
) -> None:
    """Export the lineage of REF (or with --down, what it fed) for other tools."""
    if ndjson and fmt != "openlineage":
        raise UsageError("--ndjson only applies to --format openlineage")
    project = state.project()
    with project.open_store(state.config(project)) as store:
        target = resolve_ref(store, ref, project_root=project.root, cwd=Path(state.cwd))
        graph = load_lineage(store, target, "down" if down else "up", depth)
        parents = store.jobs_by_ids(missing_parents(graph))
    namespace = project_namespace(project.root)
    if fmt == "openlineage":
        events = openlineage_events(
            graph,
            namespace,
            dataset_namespace=files_namespace(),
            root=str(project.root),
            parents=parents,
        )
        text = openlineage_text(events, ndjson=ndjson)
    elif fmt in ("prov-json", "prov-n"):
        doc = prov_document(graph, namespace)
        text = prov_json(doc) if fmt == "prov-json" else prov_n(doc)
    else:
        text = to_dot(graph) if fmt == "dot" else to_mermaid(graph)
    if output is None:
        click.echo(text)
        return
    destination = output if output.is_absolute() else state.cwd / output
    try:
        atomic_write_bytes(destination, (text + "\n").encode())
    except OSError as exc:
        raise RoarError(f"cannot write {destination}: {exc.strerror or exc}") from exc
