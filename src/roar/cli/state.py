"""State shared by all commands of one invocation (global flags, the project, its config).
Free of click, so the `roar run` fast path can use it too."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from roar.config import Config, load_config
from roar.errors import UsageError
from roar.project import Project, find_project, require_project

__all__ = ["CliState", "parse_overrides"]


def parse_overrides(pairs: tuple[str, ...]) -> dict[str, str]:
    overrides: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"-c expects KEY=VALUE, got {pair!r}")
        overrides[key.strip()] = value
    return overrides


class CliState:
    """What every command of one `roar` call shares: where it runs, `-c` overrides, and
    whether errors show a traceback. (A plain class: on `roar run`'s path, where every
    millisecond of start-up counts, a dataclass costs one to build.)"""

    def __init__(
        self,
        cwd: Path | None = None,
        overrides: Mapping[str, str] | None = None,
        traceback: bool = False,
    ) -> None:
        self.cwd = Path.cwd() if cwd is None else cwd
        self.overrides: Mapping[str, str] = {} if overrides is None else overrides
        self.traceback = traceback

    def find_project(self) -> Project | None:
        return find_project(self.cwd)

    def project(self) -> Project:
        return require_project(self.cwd)

    def config(self, project: Project | None = None) -> Config:
        root = project.root if project is not None else None
        if project is None:
            found = self.find_project()
            root = found.root if found else None
        return load_config(root, overrides=self.overrides)
