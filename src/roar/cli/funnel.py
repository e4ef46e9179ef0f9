"""The one error funnel for exceptions that are not click's: a line, and a documented exit
code; a traceback only when asked for. Used by the full CLI and the `roar run` fast path."""

from __future__ import annotations

import os
import sys

from roar.cli.say import say_error
from roar.errors import EXIT_INTERNAL, RoarError

__all__ = ["EXIT_INTERRUPTED", "exit_code_for"]

EXIT_INTERRUPTED = 130


def _print_traceback() -> None:
    import traceback  # ~10 ms; only on the error path

    traceback.print_exc()


def exit_code_for(exc: BaseException, show_traceback: bool) -> int:
    """Report `exc` (being handled) and say what roar exits with."""
    if isinstance(exc, RoarError):
        if show_traceback:
            _print_traceback()
        say_error(exc.message)
        return exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        say_error("interrupted")
        return EXIT_INTERRUPTED
    if isinstance(exc, BrokenPipeError):
        # `roar hash * | head` is not an error; point stdout at devnull so the
        # interpreter's final flush does not complain either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    if show_traceback:
        _print_traceback()
    say_error(f"unexpected error: {type(exc).__name__}: {exc}; rerun with --traceback")
    return EXIT_INTERNAL
