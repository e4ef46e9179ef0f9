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
    ├── ReproduceError             exit 8   a reproduction cannot start or does not match
    ├── CheckpointError            exit 9   roar.checkpoints cannot do what was asked
    │   ├── NotFoundError                   no such commit, ref, folder or commit group
    │   ├── ConflictError                   lost a race: a create-only or compare-and-swap
    │   │                                   write found another writer first (412/409/404)
    │   ├── BackendError                    the storage failed (code, message); transient
    │   │                                   failures are retried with backoff first
    │   ├── UnsupportedStoreUrl             a store URL with a scheme no backend handles
    │   ├── FolderBusy                      a folder changed, or was open for writing,
    │   │                                   while it was being sealed
    │   ├── VerifyFailed                    a committed file does not match its manifest
    │   ├── CommitTimeout                   wait_for_commit ran out of time
    │   └── IntegrationUnavailable          a checkpoint integration's library is missing
    │                                       (also an ImportError); names the extra to install
    ├── RegistryError              exit 10  the Git-tag registry refused (roar registry ...)
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

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Any, ClassVar


__all__ = [
    "EXIT_INTERNAL",
    "ArtifactMissing",
    "BackendError",
    "CheckpointError",
    "CommitTimeout",
    "ConflictError",
    "FolderBusy",
    "IntegrationUnavailable",
    "NotFoundError",
    "UnsupportedStoreUrl",
    "VerifyFailed",
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
    "InvalidArtifactName",
    "InvalidStage",
    "InvalidVersion",
    "NotACommit",
    "NotAllowed",
    "NotInStage",
    "RecordNotFound",
    "ReproduceError",
    "RegistryError",
    "RegistryGitError",
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
    "UnknownArtifact",
    "UnknownConfigKey",
    "UnknownRun",
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


class CheckpointError(RoarError):
    """A checkpoint store cannot do what was asked (`roar.checkpoints`, `roar ckpt`)."""

    exit_code = 9


class NotFoundError(CheckpointError):
    template = "{detail}"


class ConflictError(CheckpointError):
    """Another writer got there first; re-read and decide again (nothing was changed)."""

    template = "{detail}"


class BackendError(CheckpointError):
    """The storage itself failed. `code` is the backend's own (an S3 error code, an errno
    name, `unreachable`); `retryable` marks failures worth trying again."""

    template = "{message}"

    def __init__(self, code: str, message: str, *, retryable: bool = False) -> None:
        self.code = code
        self.retryable = retryable
        super().__init__(code=code, message=message)


class UnsupportedStoreUrl(CheckpointError):
    template = (
        "cannot open checkpoint store {url!r}: unknown scheme {scheme!r}; "
        "use a local path (or file://) or s3://bucket/prefix"
    )


class FolderBusy(CheckpointError):
    template = (
        "folder {folder} is still being written ({detail}); close every writer of its "
        "files, then commit again"
    )


class VerifyFailed(CheckpointError):
    template = (
        "commit {commit} does not verify: {path} {detail}; it is skipped on load, and "
        "`roar ckpt restore` of an older commit gets the last good state"
    )


class CommitTimeout(CheckpointError):
    template = (
        "commit {commit} is not committed after {timeout} s; wait longer, or check the "
        "writer that made it (`roar ckpt show {commit}`)"
    )


class IntegrationUnavailable(CheckpointError, ImportError):
    """An integration (Lightning, Hugging Face, Ray) whose library cannot be imported. Also
    an ImportError, so `try: import ... except ImportError` around an optional adapter works."""

    template = "cannot import {module} ({detail}); install it with pip install 'roar[{extra}]'"


class RegistryError(RoarError):
    """The Git-tag registry refused a command; no tag was created or deleted."""

    exit_code = 10


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
