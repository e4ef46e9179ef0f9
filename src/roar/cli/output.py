"""How the CLI talks to people: one-line errors and warnings on stderr, tables on stdout."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click

__all__ = ["echo_error", "echo_json", "echo_note", "echo_warning", "render_table"]


def echo_error(message: str) -> None:
    click.echo(click.style(f"roar: error: {message}", fg="red"), err=True)


def echo_warning(message: str) -> None:
    click.echo(click.style(f"roar: warning: {message}", fg="yellow"), err=True)


def echo_note(message: str) -> None:
    click.echo(f"roar: {message}", err=True)


def echo_json(value: Any) -> None:
    """Every `--json` document: indented, keys in a fixed order, shapes in docs/json/."""
    click.echo(json.dumps(value, indent=2, default=str))


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Plain aligned columns: cheap to import, friendly to grep and to narrow terminals."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    lines = [headers, *rows]
    rendered = []
    for index, line in enumerate(lines):
        cells = [cell.ljust(width) for cell, width in zip(line, widths, strict=True)]
        text = "  ".join(cells).rstrip()
        rendered.append(click.style(text, bold=True) if index == 0 else text)
    return "\n".join(rendered)
