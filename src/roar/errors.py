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
    │   └── ObjectCopyFailed                a file cannot be copied into .roar/objects
    ├── HashError                  exit 6   a path cannot be read for hashing
    │   └── ContentChanged                  a file no longer holds the content roar hashed
    ├── TracerUnavailable          exit 7   the requested tracer cannot run here
    ├── RegistryError              exit 9   the Git-tag registry refused (roar registry ...)
    │   ├── InvalidArtifactName    exit 2   not [dir:]name; the message shows the grammar
    │   ├── InvalidVersion         exit 2   not SemVer with a leading v
    │   ├── InvalidStage           exit 2   not a valid stage name
    │   ├── NotAllowed                      a stage or type outside .gto's list
    │   ├── UnknownArtifact                 no tags (and no annotation) for that name
    │   ├── UnknownVersion                  that version was never registered
    │   ├── VersionExists                   the version, or a version at that commit, exists
    │   ├── NotInStage                      unassign of a stage the version is not in
    │   ├── NotACommit                      a REF git cannot resolve to a commit
    │   └── RegistryGitError                git failed (not a repository, clone, push, tag)
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
    "ConfigError",
    "CorruptConfigFile",
    "CommandNotFound",
    "ContentChanged",
    "HashError",
    "InvalidConfigValue",
    "NotInitialized",
    "ObjectCopyFailed",
    "ProjectError",
    "InvalidArtifactName",
    "InvalidStage",
    "InvalidVersion",
    "NotACommit",
    "NotAllowed",
    "NotInStage",
    "RecordNotFound",
    "RegistryError",
    "RegistryGitError",
    "RoarError",
    "SchemaMissing",
    "SchemaTooNew",
    "StoreCorrupt",
    "StoreError",
    "StoreUnavailable",
    "TracerUnavailable",
    "UnknownArtifact",
    "UnknownConfigKey",
    "UnknownVersion",
    "UsageError",
    "VersionExists",
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


class ObjectCopyFailed(StoreError):
    template = "cannot copy {path} into {objects}: {detail}"


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


class CommandNotFound(RoarError):
    exit_code = 127
    template = "command not found: {command}{hint}"


class ReproduceError(RoarError):
    """A reproduction cannot start, or its result differs from the record."""

    exit_code = 8


class RegistryError(RoarError):
    """The Git-tag registry refused a command; no tag was created or deleted."""

    exit_code = 9


class InvalidArtifactName(RegistryError):
    exit_code = 2
    template = "invalid artifact name {name!r}: write {grammar}"


class InvalidVersion(RegistryError):
    exit_code = 2
    template = "invalid version {version!r}: write {grammar}"


class InvalidStage(RegistryError):
    exit_code = 2
    template = "invalid stage {stage!r}: a stage is {grammar}"


class NotAllowed(RegistryError):
    template = "{kind} {value!r} is not allowed; allowed {kind}s: {allowed} (set in {source})"


class UnknownArtifact(RegistryError):
    template = "no artifact {name!r} in the registry{hint}; `roar registry show` lists them"


class UnknownVersion(RegistryError):
    template = "{name} has no {what}{hint}; `roar registry show {name}` lists its versions"


class VersionExists(RegistryError):
    template = "{detail}"


class NotInStage(RegistryError):
    template = "{detail}"


class NotACommit(RegistryError):
    template = "{ref!r} is not a commit in {repo}; give a branch, tag or commit sha"


class RegistryGitError(RegistryError):
    template = "{detail}"
