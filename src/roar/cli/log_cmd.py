"""`roar log`: the most recent jobs, newest first."""

from __future__ import annotations

import datetime as dt

import click

from roar.cli.context import CliState, pass_state
from roar.cli.output import echo_json, render_table
from roar.lineage.render import job_record
from roar.models import Job


def _status(job: Job) -> str:
    if job.exit_code is None:
        return "?"
    return "ok" if job.exit_code == 0 else f"exit {job.exit_code}"


def _when(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


@click.command("log")
@click.option("-n", "limit", type=click.IntRange(min=1), default=20, show_default=True,
              help="How many jobs to show.")  # fmt: skip
@click.option("--step", help="Only jobs of this step.")
@click.option("--failed", is_flag=True, help="Only jobs that did not exit 0.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of jobs.")
@pass_state
def log(state: CliState, limit: int, step: str | None, failed: bool, as_json: bool) -> None:
    """Recent jobs, newest first: number, uid, kind, step, status, start, duration, files."""
    project = state.project()
    with project.open_store(state.config(project)) as store:
        jobs = store.list_jobs(limit, step=step, failed=failed)
        counts = store.file_counts([job.id for job in jobs])
    if as_json:
        rows = [
            {
                **job_record(job),
                "inputs": counts[job.id][0],
                "outputs": counts[job.id][1],
                "notes": job.notes,
            }
            for job in jobs
        ]
        echo_json(rows)
        return
    table = [
        (
            f"@{job.id}",
            job.uid,
            job.kind,
            job.step,
            _status(job),
            _when(job.started_at),
            f"{(job.ended_at or job.started_at) - job.started_at:.2f}s",
            f"{counts[job.id][0]}/{counts[job.id][1]}",
            " ".join(job.command)[:60],
        )
        for job in jobs
    ]
    header = ("JOB", "UID", "KIND", "STEP", "STATUS", "STARTED", "TIME", "IN/OUT", "COMMAND")
    click.echo(render_table(header, table) if table else "no jobs recorded yet")
