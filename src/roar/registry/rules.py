"""What the registry allows: stages and artifact types from `.gto` (as GTO reads it) or
roar's `registry.stages` / `registry.types` settings, which win when set.

An empty or missing list allows everything. Stages already used in tags stay visible in
`show` even when the list no longer names them; only new assignments are refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from roar.config import Config
from roar.errors import NotAllowed, RegistryError
from roar.registry.git import RegistryGit

__all__ = ["GTO_CONFIG", "Rules", "load_rules", "load_yaml"]

GTO_CONFIG = ".gto"


def load_yaml(text: bytes, origin: str) -> Any:
    """YAML from `origin` (a file name for messages); PyYAML loads only when a file exists."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raise RegistryError(f"{origin} is not valid YAML ({exc}); fix that file") from exc


def read_repo_file(git: RegistryGit, path: str, commit: str | None = None) -> bytes | None:
    """`path` in the work tree (or at `commit`, or at HEAD in a bare repository)."""
    if commit is None and not git.bare:
        try:
            return (git.root / path).read_bytes()
        except FileNotFoundError:
            return None
    try:
        return git.read_file(commit or "HEAD", path)
    except RegistryError:
        return None


@dataclass(frozen=True)
class Rules:
    stages: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    stages_source: str = GTO_CONFIG
    types_source: str = GTO_CONFIG

    def check_stage(self, stage: str) -> None:
        if self.stages and stage not in self.stages:
            raise NotAllowed(
                kind="stage", value=stage, allowed=", ".join(self.stages), source=self.stages_source
            )

    def check_type(self, kind: str) -> None:
        if self.types and kind not in self.types:
            raise NotAllowed(
                kind="type", value=kind, allowed=", ".join(self.types), source=self.types_source
            )


def _as_list(value: object, key: str, origin: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
        raise RegistryError(f"{origin}: `{key}` must be a list of strings, got {value!r}")
    return tuple(value)


def _from_setting(config: Config | None, key: str) -> tuple[str, ...]:
    raw = config.get(key) if config is not None else None
    if not isinstance(raw, str):
        return ()
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def load_rules(git: RegistryGit, config: Config | None = None) -> Rules:
    """Allowed stages and types for the repository behind `git`."""
    stages: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    text = read_repo_file(git, GTO_CONFIG)
    if text is not None and text.strip():
        document = load_yaml(text, GTO_CONFIG)
        if not isinstance(document, dict):
            raise RegistryError(f"{GTO_CONFIG} must be a mapping like `stages: [dev, prod]`")
        stages = _as_list(document.get("stages"), "stages", GTO_CONFIG)
        types = _as_list(document.get("types"), "types", GTO_CONFIG)
    stages_source = types_source = GTO_CONFIG
    if setting := _from_setting(config, "registry.stages"):
        stages, stages_source = setting, "roar setting registry.stages"
    if setting := _from_setting(config, "registry.types"):
        types, types_source = setting, "roar setting registry.types"
    return Rules(stages, types, stages_source, types_source)
