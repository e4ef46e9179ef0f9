"""click's handle on the invocation state (state.py): `@pass_state` gives it to a command."""

from __future__ import annotations

import click

from roar.cli.state import CliState, parse_overrides

__all__ = ["CliState", "parse_overrides", "pass_state"]

pass_state = click.make_pass_decorator(CliState, ensure=True)
