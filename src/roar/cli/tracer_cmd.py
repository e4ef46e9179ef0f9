"""`roar tracer check`: which tracing backends work on this machine, and why not."""

from __future__ import annotations

import click

from roar.cli.output import render_table
from roar.trace.choose import probe_tracers


@click.group()
def tracer() -> None:
    """Inspect the tracing backends."""


@tracer.command("check")
def check() -> int:
    """Say which backend `roar run --tracer auto` would use here, and why."""
    choices = probe_tracers()
    rows = [(c.name, "yes" if c.works else "no", c.reason) for c in choices]
    click.echo(render_table(("TRACER", "WORKS", "WHY"), rows))
    chosen = next(c for c in choices if c.works)
    click.echo(f"auto uses: {chosen.name}")
    return 0
