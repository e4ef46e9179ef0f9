"""`roar run` and `roar build` without click.

Importing click costs 30-40 ms, a quarter of what `roar run true` costs in all. The
commands a pipeline runs hundreds of times have a tiny grammar, parsed here; anything
this parser is not sure about (help, an unknown or combined option, `--`, a bad value, a
missing command) goes to the full click CLI, which owns every error message. Both paths
end in the same `run_and_report`.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING: typing costs `roar run` milliseconds
if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["FastRun", "parse_fast_run"]


class FastRun:
    """A parsed `roar run` or `roar build` call."""

    __slots__ = (
        "collect_sources",
        "command",
        "directory",
        "kind",
        "name",
        "overrides",
        "quiet",
        "traceback",
        "tracer",
    )

    def __init__(
        self,
        kind: str,  # "run" or "build"
        command: tuple[str, ...],
        name: str | None = None,
        tracer: str = "auto",
        quiet: bool = False,
        collect_sources: bool | None = None,
        directory: str | None = None,
        overrides: tuple[str, ...] = (),
        traceback: bool = False,
    ) -> None:
        self.kind, self.command, self.name, self.tracer = kind, command, name, tracer
        self.quiet, self.collect_sources, self.directory = quiet, collect_sources, directory
        self.overrides, self.traceback = overrides, traceback

    def _fields(self) -> tuple[object, ...]:
        return (
            self.kind,
            self.command,
            self.name,
            self.tracer,
            self.quiet,
            self.collect_sources,
            self.directory,
            self.overrides,
            self.traceback,
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FastRun) and self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        return f"FastRun{self._fields()!r}"


def _value(args: Sequence[str], index: int, option: str) -> tuple[str, int] | None:
    """The value of `option` at args[index] (`--opt VALUE` or `--opt=VALUE`)."""
    token = args[index]
    if token.startswith(option + "="):
        return token[len(option) + 1 :], index + 1
    if token == option and index + 1 < len(args):
        return args[index + 1], index + 2
    return None


def parse_fast_run(args: Sequence[str]) -> FastRun | None:
    """The call, when it is `roar [-C DIR] [-c K=V]... [--traceback] run|build [OPTIONS]
    COMMAND...` in a form this parser fully understands; else None."""
    index = 0
    directory, overrides, traceback = None, [], False
    while index < len(args) and args[index] not in ("run", "build"):
        token = args[index]
        if token == "--traceback":
            traceback, index = True, index + 1
        elif token in ("-C", "-c") and index + 1 < len(args):
            if token == "-C":
                directory = args[index + 1]
            else:
                overrides.append(args[index + 1])
            index += 2
        else:
            return None
    if index >= len(args):
        return None
    kind, index = args[index], index + 1
    name, tracer, quiet, collect = None, "auto", False, None
    while index < len(args) and args[index].startswith("-"):
        token = args[index]
        if token in ("-q", "--quiet"):
            quiet, index = True, index + 1
        elif token == "--collect-sources":
            collect, index = True, index + 1
        elif token == "--no-collect-sources":
            collect, index = False, index + 1
        elif (found := _value(args, index, "--tracer")) is not None:
            from roar.trace.choose import TRACER_NAMES  # the run path imports it anyway

            tracer, index = found
            if tracer not in TRACER_NAMES:
                return None
        elif (found := _value(args, index, "--name") or _value(args, index, "-n")) is not None:
            name, index = found
        else:
            return None  # --help, `--`, combined flags, unknown options: click decides
    command = tuple(args[index:])
    if not command:
        return None
    return FastRun(
        kind, command, name, tracer, quiet, collect, directory, tuple(overrides), traceback
    )


def run_fast(call: FastRun) -> int:
    """Run the parsed call; errors go through the same funnel as the full CLI's."""
    import gc

    # This process lives for one command. Its objects are freed when it exits, and what it
    # builds after the command (a few objects per recorded file, all live until the job is
    # written) only gives the cycle collector repeated full scans: 10-20% of that work.
    gc.disable()

    # The command starts now, held at its first change to a file until run_job has read
    # the git state and opened the store (run/launch.py); roar loads meanwhile.
    from roar.run.launch import launch_early

    try:
        launched = launch_early(
            call.command, directory=call.directory, tracer=call.tracer, overrides=call.overrides
        )
    except Exception:  # noqa: BLE001 - a head start only: the usual path runs the command
        launched = None
    pending_git = None
    try:
        from pathlib import Path

        # git status started with the command (launch_early), or starts now, and runs on
        # another core while the imports below take tens of milliseconds; run_job checks
        # it reads the right work tree before using it.
        from roar.capture.git_state import start_git_capture

        pending_git = start_git_capture(
            Path(call.directory or ".").resolve(), None if launched is None else launched.git
        )
        from roar.cli.run_report import run_and_report
        from roar.cli.state import CliState, parse_overrides
        from roar.run import RunRequest

        state = CliState(traceback=call.traceback)
        if call.directory is not None:
            state.cwd = Path(call.directory).resolve()
        state.overrides = parse_overrides(call.overrides)
        request = RunRequest(
            call.command,
            "build" if call.kind == "build" else "run",
            call.name,
            call.tracer,  # type: ignore[arg-type]  # checked against TRACERS
            collect_sources=call.collect_sources,
        )
        return run_and_report(state, request, call.quiet, pending_git, launched)
    except (Exception, KeyboardInterrupt) as exc:
        from roar.cli.funnel import exit_code_for

        return exit_code_for(exc, call.traceback)
    finally:
        if launched is not None:
            launched.running.abort()  # a command roar could not adopt; nothing once finished
        if pending_git is not None:
            pending_git.close()


def directory_is_usable(call: FastRun) -> bool:
    """click checks `-C DIR` (exists, is a directory); leave a bad one to it."""
    return call.directory is None or os.path.isdir(call.directory)
