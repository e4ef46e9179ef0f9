"""Entry point: the root `roar` group, lazy command loading and the one error funnel.

Exit codes (also in the README):
    0   success            4   config error           70  unexpected error (a bug)
    1   other roar error   5   store error            130 interrupted (Ctrl-C)
    2   usage error        6   hashing error
    3   no project           8   reproduction mismatch
                             9   checkpoint error
                             10  registry refused
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from roar import __version__
from roar.cli.context import CliState, parse_overrides
from roar.cli.funnel import exit_code_for
from roar.errors import RoarError

__all__ = ["cli", "main"]

#: name -> (module:attribute, one-line help). Modules load only when their command runs,
#: so `roar --help` never imports SQLAlchemy, blake3 or rich.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("roar.cli.init_cmd:init", "Create a .roar/ project here (safe to run again)."),
    "config": ("roar.cli.config_cmd:config", "Show and change settings."),
    "hash": ("roar.cli.hash_cmd:hash_command", "Print BLAKE3 hashes of files and directories."),
    "run": ("roar.cli.run_cmd:run", "Run a command and record what it read and wrote."),
    "build": ("roar.cli.run_cmd:build", "Run and record a build step (replayed first)."),
    "tracer": ("roar.cli.tracer_cmd:tracer", "Check which tracing backend works here."),
    "log": ("roar.cli.log_cmd:log", "Show recent jobs, newest first."),
    "show": ("roar.cli.lineage_cmd:show", "Show one job or artifact."),
    "status": ("roar.cli.status_cmd:status", "Show what is stale, and why."),
    "tag": ("roar.cli.annotate_cmd:tag", "Tag jobs and artifacts."),
    "flag": ("roar.cli.annotate_cmd:flag", "Flag a bad artifact (or a job's outputs)."),
    "unflag": ("roar.cli.annotate_cmd:unflag", "Remove flags."),
    "review": ("roar.cli.annotate_cmd:review", "Rank the jobs that feed flagged outputs."),
    "collection": ("roar.cli.annotate_cmd:collection", "Group artifacts under a name."),
    "export": ("roar.cli.export_cmd:export", "Export lineage: OpenLineage, PROV, DOT, Mermaid."),
    "history": ("roar.cli.compare_cmd:history", "Show the runs of one step and what changed."),
    "diff": ("roar.cli.compare_cmd:diff", "Compare two jobs, or two artifacts' lineages."),
    "reproduce": (
        "roar.cli.reproduce_cmd:reproduce_command",
        "Plan, replay and verify what made an artifact.",
    ),
    "trace": ("roar.cli.lineage_cmd:trace", "Show where an artifact came from (or what it fed)."),
    "ckpt": ("roar.cli.ckpt_cmd:ckpt", "Inspect, verify, restore and prune checkpoint stores."),
    "registry": ("roar.cli.registry_cmd:registry", "Versions and stages as Git tags (GTO)."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module_name, attribute = COMMANDS[cmd_name][0].split(":")
        command = getattr(importlib.import_module(module_name), attribute)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="roar")
@click.option(
    "-C",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Run as if roar was started in this directory.",
)
@click.option(
    "-c",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a setting for this call (highest precedence; repeatable).",
)
@click.option("--traceback", is_flag=True, help="Show the full traceback of any error.")
@click.pass_context
def cli(
    ctx: click.Context, directory: Path | None, overrides: tuple[str, ...], traceback: bool
) -> None:
    """roar: record what your ML pipeline read, wrote and ran; trace and reproduce any
    artifact.

    Start with `roar init` in your project, then `roar hash FILE` or `roar config list`.
    """
    state = ctx.ensure_object(CliState)
    state.traceback = traceback
    if directory is not None:
        state.cwd = directory.resolve()
    state.overrides = parse_overrides(overrides)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the CLI and exit with a documented code; never show a traceback unasked."""
    args = list(sys.argv[1:] if argv is None else argv)
    show_traceback = "--traceback" in args
    code: Any
    try:
        code = cli.main(args=args, prog_name="roar", standalone_mode=False)
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.ClickException as exc:
        exc.show()
        code = exc.exit_code
    except click.Abort:
        code = exit_code_for(KeyboardInterrupt(), show_traceback)
    except (RoarError, KeyboardInterrupt, Exception) as exc:
        code = exit_code_for(exc, show_traceback)
    sys.exit(code if isinstance(code, int) else 0)
