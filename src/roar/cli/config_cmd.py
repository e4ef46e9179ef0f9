"""`roar config list|get|set|unset`: the layered settings of roar.config."""

from __future__ import annotations

from pathlib import Path

import click

from roar.cli.context import CliState, pass_state
from roar.cli.output import echo_json, echo_note, echo_warning, render_table
from roar.config import (
    SETTINGS,
    format_value,
    set_value,
    setting_for,
    unset_value,
    user_config_path,
)


def _target_file(state: CliState, use_global: bool) -> Path:
    if use_global:
        return user_config_path()
    return state.project().config_path


@click.group()
def config() -> None:
    """Show and change settings.

    Precedence, lowest to highest: defaults, ~/.config/roar/config.toml (--global),
    .roar/config.toml (the project), ROAR_* environment variables, `roar -c KEY=VALUE`.
    """


@config.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of objects.")
@pass_state
def list_settings(state: CliState, as_json: bool) -> None:
    """Every key with its value, where the value came from, its type and meaning."""
    resolved = state.config()
    for warning in resolved.warnings:
        echo_warning(warning)
    values = [resolved.values[key] for key in SETTINGS]
    if as_json:
        payload = [
            {
                "key": v.setting.key,
                "value": v.value,
                "source": v.source,
                "origin": v.origin,
                "type": v.setting.type_name,
                "default": v.setting.default,
                "description": v.setting.description,
            }
            for v in values
        ]
        echo_json(payload)
        return
    rows = [
        (
            v.setting.key,
            format_value(v.value) or "(unset)",
            v.source,
            v.setting.type_name,
            v.setting.description,
        )
        for v in values
    ]
    click.echo(render_table(("KEY", "VALUE", "SOURCE", "TYPE", "DESCRIPTION"), rows))


@config.command("get")
@click.argument("key")
@pass_state
def get_setting(state: CliState, key: str) -> None:
    """Print the value of KEY (an empty line when it is unset)."""
    setting_for(key)
    click.echo(format_value(state.config().get(key)))


@config.command("set")
@click.argument("key")
@click.argument("value")
@click.option("--global", "use_global", is_flag=True, help="Write the user file instead.")
@pass_state
def set_setting(state: CliState, key: str, value: str, use_global: bool) -> None:
    """Set KEY to VALUE in the project's (or with --global the user's) config file."""
    setting_for(key)
    path = _target_file(state, use_global)
    stored = set_value(path, key, value)
    echo_note(f"{key} = {format_value(stored)}  ({path})")


@config.command("unset")
@click.argument("key")
@click.option("--global", "use_global", is_flag=True, help="Edit the user file instead.")
@pass_state
def unset_setting(state: CliState, key: str, use_global: bool) -> None:
    """Remove KEY from the project's (or with --global the user's) config file."""
    setting_for(key)
    path = _target_file(state, use_global)
    if unset_value(path, key):
        echo_note(f"removed {key} from {path}")
    else:
        echo_note(f"{key} was not set in {path}")
