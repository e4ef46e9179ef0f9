"""State shared by all commands of one invocation (global flags, the project, its config).
Free of click, so the `roar run` fast path can use it too."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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


@dataclass
class CliState:
    cwd: Path = field(default_factory=Path.cwd)
    overrides: Mapping[str, str] = field(default_factory=dict)
    traceback: bool = False

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
