"""One-line messages for people on stderr, without importing click (the `roar run` fast
path starts in about half the time without it). Colour only on a terminal, as click does."""

from __future__ import annotations

import sys

__all__ = ["say_error", "say_line", "say_note", "say_warning"]

_RED, _YELLOW = "31", "33"


def _write(text: str, color: str | None = None) -> None:
    stream = sys.stderr
    if color is not None and stream.isatty():
        text = f"\x1b[{color}m{text}\x1b[0m"
    stream.write(text + "\n")
    stream.flush()


def say_error(message: str) -> None:
    _write(f"roar: error: {message}", _RED)


def say_warning(message: str) -> None:
    _write(f"roar: warning: {message}", _YELLOW)


def say_note(message: str) -> None:
    _write(f"roar: {message}")


def say_line(text: str) -> None:
    _write(text)
