"""How the CLI talks to people: one-line errors and warnings on stderr, tables on stdout."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click

from roar.cli.say import say_error, say_note, say_warning

__all__ = ["echo_error", "echo_json", "echo_note", "echo_warning", "render_table"]


# the same lines as the click-free fast path of `roar run` prints (say.py)
echo_error = say_error
echo_warning = say_warning
echo_note = say_note


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
