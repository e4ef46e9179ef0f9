"""`roar status`: which recorded results are out of date, and why."""

from __future__ import annotations

import click

from roar.cli.context import CliState, pass_state
from roar.cli.output import echo_json
from roar.lineage.status import stale_jobs


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of stale jobs.")
@pass_state
def status(state: CliState, as_json: bool) -> None:
    """Jobs whose inputs or source files changed since they ran, and what they feed."""
    project = state.project()
    with project.open_store(state.config(project)) as store:
        stale = stale_jobs(store, project.root)
    if as_json:
        rows = [
            {"id": s.job.id, "uid": s.job.uid, "step": s.job.step, "reasons": list(s.reasons)}
            for s in stale
        ]
        echo_json(rows)
        return
    if not stale:
        click.echo("everything is up to date")
        return
    for item in stale:
        click.echo(f"stale @{item.job.id} {item.job.step}:")
        for reason in item.reasons:
            click.echo(f"    {reason}")
