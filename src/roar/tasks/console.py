"""What the task API says to the person at the console: one line each, on stderr.

The task API has no CLI in front of it (it runs inside the user's program), so this is
its edge: the lines look like the CLI's (`roar: warning: ...`).
"""

from __future__ import annotations

import sys

__all__ = ["say", "warn"]


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def warn(message: str) -> None:
    print(f"roar: warning: {message}", file=sys.stderr, flush=True)
