"""Where roar's settings files live, and whether one says anything: without importing
pathlib, re or a TOML parser, so a `roar run` can ask before its command starts
(run/launch.py) as well as roar.config does."""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["holds_only_comments", "user_config_file"]


def user_config_file(environ: Mapping[str, str]) -> str:
    """The user's settings file: $XDG_CONFIG_HOME/roar/config.toml (~/.config by default)."""
    base = environ.get("XDG_CONFIG_HOME") or os.path.join(environ.get("HOME") or "~", ".config")
    return os.path.join(os.path.expanduser(base), "roar", "config.toml")


def holds_only_comments(text: str) -> bool:
    """Whether every line of `text` is blank or a comment (the file `roar init` writes)."""
    return all(
        not line.strip(" \t\r") or line.lstrip(" \t").startswith("#") for line in text.split("\n")
    )
