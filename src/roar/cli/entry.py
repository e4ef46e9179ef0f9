"""The `roar` console script: `roar run`/`roar build` take the fast path (fast.py), every
other call the full click CLI (main.py)."""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING: typing costs `roar run` milliseconds
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import NoReturn

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> None:
    """The console script (argv None: sys.argv) or the same CLI called in-process."""
    args = list(sys.argv[1:] if argv is None else argv)
    from roar.cli.fast import directory_is_usable, parse_fast_run, run_fast

    call = parse_fast_run(args)
    if call is not None and directory_is_usable(call):
        code = run_fast(call)
        if argv is None:  # the process is roar's alone
            _exit_without_teardown(code)
        sys.exit(code)
    from roar.cli.main import main as full_main

    full_main(args)


def _exit_without_teardown(code: int) -> NoReturn:
    """End the process as `sys.exit(code)` would, without the interpreter's teardown.

    Freeing the couple of hundred modules a run has loaded takes 25-40 ms, a tenth of what
    `roar run true` costs, for a process that is ending anyway. What of the teardown
    matters is done here: atexit handlers run, and the standard streams are flushed (exit
    status 120 if that fails, as Python's own exit does). A non-daemon thread still alive
    would have to be waited for, so then the normal exit is taken.
    """
    import atexit
    import threading

    main_thread = threading.main_thread()
    if any(t is not main_thread and not t.daemon and t.is_alive() for t in threading.enumerate()):
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            code = 120
    os._exit(code)
