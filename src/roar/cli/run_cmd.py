"""`roar run` and `roar build`: trace a command, record it, exit with its exit code."""

from __future__ import annotations

import click

from roar.cli.context import CliState, pass_state
from roar.cli.output import echo_note, echo_warning
from roar.pathtext import for_display
from roar.run import RunOutcome, RunRequest, run_job
from roar.trace.choose import TracerName

_SETTINGS = {"ignore_unknown_options": True, "allow_interspersed_args": False}


def _options(function: click.decorators.FC) -> click.decorators.FC:
    function = click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)(function)
    function = click.option(
        "-q", "--quiet", is_flag=True, help="No report after the run (also output.quiet)."
    )(function)
    function = click.option(
        "--tracer",
        type=click.Choice(["auto", "seccomp", "strace", "python"]),
        default="auto",
        show_default=True,
        help="seccomp (complete, fastest; Linux 5.5+), strace (complete, ptrace), python "
        "(audit hook + project scan, reduced), or auto: the first of these that works here.",
    )(function)
    function = click.option(
        "-n", "--name", help="Step name (default: derived from the command, e.g. train)."
    )(function)
    function = click.option(
        "--collect-sources/--no-collect-sources",
        default=None,
        help="Copy the source inputs (project files no recorded job wrote) into .roar/objects "
        "so `roar reproduce` still has them after they change (default: "
        "reproduce.collect_sources; size cap: reproduce.collect_max_mb).",
    )(function)
    return function


def _report(outcome: RunOutcome, quiet: bool) -> None:
    for note in outcome.notes:
        echo_warning(note)
    if quiet:
        return
    job = outcome.job
    status = "ok" if outcome.exit_code == 0 else f"exit {outcome.exit_code}"
    if job.notes:
        status += f", {job.notes}"
    echo_note(
        f"recorded {job.kind} @{job.id} ({job.uid}) {job.step}: {status} in "
        f"{outcome.duration:.2f} s, {len(outcome.inputs)} inputs, {len(outcome.outputs)} outputs"
    )
    for ref in outcome.outputs:
        click.echo(f"  wrote {ref.artifact.hash[:12]}  {for_display(ref.path)}", err=True)


def _run(state: CliState, request: RunRequest, quiet: bool) -> int:
    project = state.project()
    config = state.config(project)
    outcome = run_job(project, config, request, cwd=state.cwd)
    _report(outcome, quiet or config.flag("output.quiet"))
    return outcome.exit_code


@click.command(context_settings=_SETTINGS)
@_options
@pass_state
def run(
    state: CliState,
    command: tuple[str, ...],
    name: str | None,
    tracer: TracerName,
    quiet: bool,
    collect_sources: bool | None,
) -> int:
    """Run COMMAND, recording every file it reads and writes, its code and environment.

    roar passes stdin, stdout and stderr through and exits with COMMAND's exit code
    (128+N when a signal N killed it). Put roar's options before COMMAND; everything
    after it belongs to COMMAND. Example: roar run python train.py --epochs 3
    """
    request = RunRequest(command, "run", name, tracer, collect_sources=collect_sources)
    return _run(state, request, quiet)


@click.command(context_settings=_SETTINGS)
@_options
@pass_state
def build(
    state: CliState,
    command: tuple[str, ...],
    name: str | None,
    tracer: TracerName,
    quiet: bool,
    collect_sources: bool | None,
) -> int:
    """Run and record a build step (compiling, installing); reproduction runs these first.

    Example: roar build make -C native
    """
    request = RunRequest(command, "build", name, tracer, collect_sources=collect_sources)
    return _run(state, request, quiet)
