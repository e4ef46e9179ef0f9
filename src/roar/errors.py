"""The one exception tree of roar; every error a user can meet says how to fix it.

    RoarError                      exit 1   base; anything roar raises on purpose
    ├── UsageError                 exit 2   bad arguments or references on the command line
    ├── ProjectError               exit 3
    │   └── NotInitialized                  no .roar/ here or above
    ├── ConfigError                exit 4
    │   ├── UnknownConfigKey                with a "did you mean" suggestion
    │   ├── InvalidConfigValue              value does not parse as the key's type
    │   └── CorruptConfigFile               a config.toml that is not TOML
    ├── StoreError                 exit 5
    │   ├── StoreCorrupt                    roar.db is not a readable database
    │   ├── SchemaTooNew                    written by a newer roar
    │   ├── SchemaMissing                   the database was never migrated
    │   ├── StoreUnavailable                cannot connect / locked for too long
    │   ├── RecordNotFound                  no job or artifact with that id
    │   │   └── UnknownRun                  no job with that run_id (task API)
    │   ├── ObjectCopyFailed                a file cannot be copied into .roar/objects
    │   └── ArtifactMissing                 an object file is gone from .roar/objects
    ├── HashError                  exit 6   a path cannot be read for hashing
    │   └── ContentChanged                  a file no longer holds the content roar hashed
    ├── TracerUnavailable          exit 7   the requested tracer cannot run here
    ├── TaskError                  exit 1   the task API (`@roar.task`) cannot do what was asked
    │   ├── SerializationFailed             a task's result cannot be stored
    │   ├── DeserializationFailed           a stored artifact cannot be loaded back
    │   └── RunNotFinished                  outputs asked of a failed or unfinished run
    └── CommandNotFound            exit 127 `roar run` was given a command that does not exist

The CLI funnel (`roar.cli.main`) prints `roar: error: <message>` in red on stderr and exits
with the class's code. Anything that is not a RoarError is a bug: exit 70 and a hint to
rerun with --traceback. Subclasses fill `template` with keyword arguments, so the message
and its fix are written once, here.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "EXIT_INTERNAL",
    "ArtifactMissing",
    "CommandNotFound",
    "ConfigError",
    "ContentChanged",
    "CorruptConfigFile",
    "DeserializationFailed",
    "HashError",
    "InvalidConfigValue",
    "NotInitialized",
    "ObjectCopyFailed",
    "ProjectError",
    "RecordNotFound",
    "RoarError",
    "RunNotFinished",
    "SchemaMissing",
    "SchemaTooNew",
    "SerializationFailed",
    "StoreCorrupt",
    "StoreError",
    "StoreUnavailable",
    "TaskError",
    "TracerUnavailable",
    "UnknownConfigKey",
    "UnknownRun",
    "UsageError",
]

#: Exit status for unexpected errors (BSD sysexits EX_SOFTWARE).
EXIT_INTERNAL = 70


class RoarError(Exception):
    """Base of every error roar raises on purpose."""

    exit_code: ClassVar[int] = 1
    template: ClassVar[str] = "{detail}"

    def __init__(self, detail: str = "", **fields: Any) -> None:
        self.fields = {"detail": detail, **fields}
        super().__init__(self.template.format(**self.fields))

    @property
    def message(self) -> str:
        return str(self)


class UsageError(RoarError):
    exit_code = 2


class ProjectError(RoarError):
    exit_code = 3


class NotInitialized(ProjectError):
    template = "no .roar/ project in {start} or any parent directory; run `roar init` first"


class ConfigError(RoarError):
    exit_code = 4


class UnknownConfigKey(ConfigError):
    template = "unknown config key '{key}'{hint}; `roar config list` shows every key"

    def __init__(self, key: str, suggestion: str | None = None) -> None:
        hint = f" (did you mean '{suggestion}'?)" if suggestion else ""
        super().__init__(key=key, hint=hint)


class InvalidConfigValue(ConfigError):
    template = "config key '{key}'{where} expects {expected}, got {value!r}"

    def __init__(self, key: str, expected: str, value: object, origin: str | None = None) -> None:
        where = f" in {origin}" if origin else ""
        super().__init__(key=key, expected=expected, value=value, where=where)


class CorruptConfigFile(ConfigError):
    template = "{path} is not valid TOML ({detail}); fix or delete that file"


class StoreError(RoarError):
    exit_code = 5


class StoreCorrupt(StoreError):
    template = (
        "{path} is not a readable roar database ({detail}); "
        "restore it from a backup or move it aside and run `roar init`"
    )


class SchemaTooNew(StoreError):
    template = (
        "{location} has schema revision {found}, newer than this roar understands "
        "(newest known: {known}); upgrade roar (`pip install -U roar`)"
    )


class SchemaMissing(StoreError):
    template = "{location} holds no roar schema; run `roar init` to create it"


class StoreUnavailable(StoreError):
    template = "cannot use the store at {location}: {detail}"


class RecordNotFound(StoreError):
    template = "{detail}"


class UnknownRun(RecordNotFound):
    template = (
        "no run_id {run_id} in {location}; `roar log` lists the runs (run_id is the number after @)"
    )


class ObjectCopyFailed(StoreError):
    template = "cannot copy {path} into {objects}: {detail}"


class ArtifactMissing(StoreError):
    template = "object {hash} ({path}, recorded by @{run_id} {step}) is gone from {objects}; {fix}"


class HashError(RoarError):
    exit_code = 6
    template = "cannot hash {path}: {detail}"


class ContentChanged(HashError):
    template = (
        "{path} changed after roar hashed it (hashed {expected:.12}, now {got:.12}); "
        "nothing was stored"
    )


class TracerUnavailable(RoarError):
    exit_code = 7
    template = "cannot trace with {tracer}: {detail}"


class TaskError(RoarError):
    """The task API cannot do what was asked; the message says what to change."""


class SerializationFailed(TaskError):
    template = (
        "task {task} could not store {where} (a {type}) with the {serializer} serializer: "
        "{detail}; return something {serializer} can write, or register a serializer for "
        "{type} with `roar.register_serializer(type, save, load, ext)`"
    )


class DeserializationFailed(TaskError):
    template = "cannot load artifact {hash:.12} ({serializer} serializer): {detail}"


class RunNotFinished(TaskError):
    template = "run_id {run_id} ({step}) {state}, so it has no outputs; {hint}"


class CommandNotFound(RoarError):
    exit_code = 127
    template = "command not found: {command}{hint}"


class ReproduceError(RoarError):
    """A reproduction cannot start, or its result differs from the record."""

    exit_code = 8
