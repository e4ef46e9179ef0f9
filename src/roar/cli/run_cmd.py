"""`roar run` and `roar build`: trace a command, record it, exit with its exit code."""

from __future__ import annotations

import click

from roar.cli.context import CliState, pass_state
from roar.cli.run_report import run_and_report
from roar.run import RunRequest
from roar.trace.choose import TRACER_NAMES

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from roar.trace.choose import TracerName

_SETTINGS = {"ignore_unknown_options": True, "allow_interspersed_args": False}
# The fast path (fast.py) parses the common calls without click and leaves everything
# else to these definitions.


def _options(function: click.decorators.FC) -> click.decorators.FC:
    function = click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)(function)
    function = click.option(
        "-q", "--quiet", is_flag=True, help="No report after the run (also output.quiet)."
    )(function)
    function = click.option(
        "--tracer",
        type=click.Choice(TRACER_NAMES),
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
    return run_and_report(state, request, quiet)


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
    return run_and_report(state, request, quiet)
