"""`roar init`: create or repair the project in the current directory."""

from __future__ import annotations

import contextlib

import click

from roar.cli.context import CliState, pass_state
from roar.cli.output import echo_note
from roar.project import Project, init_project


@click.command()
@click.option(
    "--nested",
    is_flag=True,
    help="Create a separate project even when a parent directory already has one.",
)
@click.option(
    "--gitignore",
    "gitignore",
    is_flag=True,
    help="Also add /.roar/ to the project's .gitignore (.roar/ ignores itself anyway).",
)
@pass_state
def init(state: CliState, nested: bool, gitignore: bool) -> None:
    """Create .roar/ (database, config, objects/, runs/) in the current directory.

    Running it again is safe: it repairs missing folders and upgrades the database schema.
    """
    result = init_project(state.cwd, nested=nested, gitignore=gitignore, overrides=state.overrides)
    if result.enclosing is not None:
        click.echo(
            f"already inside the roar project at {result.enclosing.root}; commands here use it "
            "(pass --nested to create a separate project in this directory)"
        )
        return
    _probe_seccomp(result.project)
    verb = "created" if result.created else "already initialized; checked"
    click.echo(f"{verb} roar project in {result.project.roar_dir}")
    for note in result.notes:
        echo_note(note)


def _probe_seccomp(project: Project) -> None:
    """Ask now, as the first `roar run` would, whether the seccomp tracer works here: with
    the answer cached, even that first run starts its command before roar has loaded
    (run/launch.py). A probe that fails only leaves the question to that run."""
    from roar.trace.choose import probe
    from roar.trace.probe_cache import PROBE_FILE

    with contextlib.suppress(Exception):
        probe("seccomp", project.roar_dir / PROBE_FILE)
