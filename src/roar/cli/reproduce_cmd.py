"""`roar reproduce REF [--run] [-y]`: show the plan; with --run, replay it and verify."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from roar.cli.context import CliState, pass_state
from roar.cli.output import echo_json, echo_note, echo_warning, render_table
from roar.cli.reproduce_json import reproduce_document
from roar.errors import ReproduceError, UsageError
from roar.hashing import Hasher
from roar.objects import ObjectStore
from roar.reproduce import (
    Plan,
    ReproduceOptions,
    ReproduceReport,
    check_can_run,
    environment_differences,
    load_plan,
    reproduce,
    source_status,
)
from roar.reproduce.execute import SourceState
from roar.reproduce.plan import Source

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from roar.trace.choose import TracerName


def _print_plan(plan: Plan, states: dict[Source, SourceState], differences: list[str]) -> None:
    click.echo(f"reproduce {plan.target_path} ({plan.target[:12]})")
    patch = f", then apply dirty-tree patch {plan.patch_hash[:12]}" if plan.patch_hash else ""
    click.echo(f"  commit   {plan.commit or '- (recorded outside git)'}{patch}")
    for title, steps in (("build steps", plan.builds), ("steps", plan.steps)):
        if steps:
            click.echo(f"  {title}:")
        for step in steps:
            needs = f"  (after {', '.join(f'@{n}' for n in step.needs)})" if step.needs else ""
            click.echo(f"    @{step.job.id} {step.job.step}: {shlex.join(step.job.command)}{needs}")
            for path, digest in step.outputs:
                click.echo(f"        -> {path} {digest[:12]}")
    click.echo("  sources:" if plan.sources else "  sources: none")
    for source in plan.sources:
        click.echo(f"    {source.path} {source.digest[:12]}  {states[source]}")
    for line in differences:
        click.echo(f"  environment: {line}")
    for warning in plan.warnings:
        echo_warning(warning)


def _print_report(report: ReproduceReport) -> None:
    rows = []
    for result in report.steps:
        for path, expected, got in result.outputs:
            verdict = "ok" if got == expected else ("missing" if got is None else "DIFFERS")
            rows.append((f"@{result.step.job.id}", path, expected[:12], (got or "-")[:12], verdict))
    click.echo(render_table(("STEP", "PATH", "EXPECTED", "GOT", "RESULT"), rows))
    for step in report.not_run:
        echo_note(f"not run: @{step.job.id} {step.job.step} (an earlier step failed)")
    for path in report.restored:
        echo_note(f"restored {path}")
    for path in report.kept_different:
        echo_note(f"left {path} alone: it holds other content (--force replaces it)")


@click.command()
@click.argument("ref")
@click.option("--run", "do_run", is_flag=True, help="Replay the plan in a fresh git worktree.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask before running.")
@click.option("--workdir", type=click.Path(path_type=Path), help="Worktree location.")
@click.option("--keep", is_flag=True, help="Keep the worktree afterwards.")
@click.option("--force", is_flag=True, help="Replace differing files when restoring outputs.")
@click.option(
    "-j",
    "--jobs",
    "parallel",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Run up to N independent steps at once.",
)
@click.option(
    "--step-timeout",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="End a step still running after SECONDS (it counts as failed).",
)
@click.option(
    "--in-place",
    is_flag=True,
    help="For jobs recorded outside git: run the steps in this project directory.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the plan (and with --run, the result) as JSON on stdout.",
)
@click.option("--tracer", type=click.Choice(["auto", "seccomp", "strace", "python"]),
              default="auto", show_default=True, help="As for `roar run`.")  # fmt: skip
@pass_state
def reproduce_command(
    state: CliState,
    ref: str,
    do_run: bool,
    yes: bool,
    workdir: Path | None,
    keep: bool,
    force: bool,
    parallel: int,
    step_timeout: float | None,
    in_place: bool,
    as_json: bool,
    tracer: TracerName,
) -> None:
    """Plan how REF was made; with --run, make it again and prove it by hash."""
    project = state.project()
    config = state.config(project)
    with project.open_store(config) as store:
        plan = load_plan(store, ref, project_root=project.root, cwd=state.cwd)
        states = source_status(plan, project.root, ObjectStore(project.objects_dir), Hasher(store))
        differences = environment_differences(plan, project.roar_dir / "package-index.json")
        if not as_json:
            _print_plan(plan, states, differences)
        if not do_run:
            if as_json:
                echo_json(reproduce_document(plan, states, differences, None))
            return
        options = ReproduceOptions(workdir, keep, force, tracer, parallel, step_timeout, in_place)
        check_can_run(plan, options)
        if not yes and not click.confirm("run these steps now?", default=False, err=True):
            raise UsageError("not run (answer y, or pass -y)")
        report = reproduce(project, config, store, plan, options, echo_note, states)
    if as_json:
        echo_json(reproduce_document(plan, states, differences, report))
    else:
        _print_report(report)
    mismatch = report.first_mismatch
    if mismatch is not None:
        step = mismatch.step.job
        why = mismatch.stopped or (
            f"exit {mismatch.exit_code}" if mismatch.exit_code else "outputs differ"
        )
        message = f"first difference at @{step.id} {step.step} ({why})"
        if not report.target_matches:
            raise ReproduceError(f"{plan.target_path} was not reproduced: {message}")
        echo_warning(f"{plan.target_path} matches, but {message}")
    elif not report.target_matches:
        raise ReproduceError(f"{plan.target_path} was not reproduced")
    echo_note(f"reproduced {plan.target_path} ({plan.target[:12]}): hashes match")
