"""The `roar` console script: `roar run`/`roar build` take the fast path (fast.py), every
other call the full click CLI (main.py)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    from roar.cli.fast import directory_is_usable, parse_fast_run, run_fast

    call = parse_fast_run(args)
    if call is not None and directory_is_usable(call):
        sys.exit(run_fast(call))
    from roar.cli.main import main as full_main

    full_main(args)
