"""The registry's tag grammar, GTO 1.x's exactly: format templates, one regex, SemVer.

    register     NAME@vX.Y.Z       (or NAME@vX.Y.Z#N)
    deregister   NAME@vX.Y.Z!      (or NAME@vX.Y.Z!#N)
    assign       NAME#STAGE#N      (or the simple NAME#STAGE)
    unassign     NAME#STAGE!#N     (or the simple NAME#STAGE!)
    deprecate    NAME@deprecated   (or NAME@deprecated#N)

NAME is `[dir:]name`; in a tag the `:` is written `=` (git refs may not hold `:`). N is
the artifact's event counter, one sequence per artifact across all its stages. Versions
are SemVer 2.0 with a leading `v`. Digits are ASCII only. Everything here is pure:
strings in, frozen values out.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from functools import total_ordering

from roar.errors import InvalidArtifactName, InvalidStage, InvalidVersion

__all__ = [
    "ARTIFACT_GRAMMAR",
    "STAGE_GRAMMAR",
    "TAG_GRAMMAR",
    "VERSION_GRAMMAR",
    "Action",
    "RegistryRef",
    "SemVer",
    "Tag",
    "check_artifact",
    "check_stage",
    "check_version",
    "default_message",
    "format_tag",
    "is_version",
    "looks_like_registry_tag",
    "parse_ref",
    "parse_tag",
    "split_tag",
]

# ------------------------------------------------------------------ pieces of the grammar
_NAME = r"[a-zA-Z0-9](?:[a-zA-Z0-9\-/_]*[a-zA-Z0-9])?"
_DIRNAME = r"[a-zA-Z0-9\-_./]+"
_NUMBER = r"(?:0|[1-9][0-9]*)"
_PRE_ID = r"(?:0|[1-9][0-9]*|[0-9]*[a-zA-Z\-][0-9a-zA-Z\-]*)"
_SEMVER = (
    rf"(?P<major>{_NUMBER})\.(?P<minor>{_NUMBER})\.(?P<patch>{_NUMBER})"
    rf"(?:-(?P<prerelease>{_PRE_ID}(?:\.{_PRE_ID})*))?"
    r"(?:\+(?P<build>[0-9a-zA-Z\-]+(?:\.[0-9a-zA-Z\-]+)*))?"
)

_NAME_RE = re.compile(rf"{_NAME}\Z")
_ARTIFACT_RE = re.compile(rf"(?:(?P<dirname>{_DIRNAME}):)?(?P<name>{_NAME})\Z")
_VERSION_RE = re.compile(rf"v{_SEMVER}\Z")

#: The one regex every tag name is parsed with.
_TAG_RE = re.compile(
    rf"(?P<artifact>(?:{_DIRNAME}=)?{_NAME})"
    r"(?:"
    rf"#(?P<stage>{_NAME})(?P<stage_cancel>!)?"
    rf"|@(?P<version>v{_SEMVER})(?P<version_cancel>!)?"
    r"|@(?P<deprecated>deprecated)"
    r")"
    r"(?:#(?P<counter>[0-9]+))?\Z"
)

_ARTIFACT, _STAGE, _STAGE_CANCEL, _VERSION, _VERSION_CANCEL, _COUNTER = (
    _TAG_RE.groupindex[name] - 1
    for name in ("artifact", "stage", "stage_cancel", "version", "version_cancel", "counter")
)

#: A reference typed by a person: NAME@vX.Y.Z, NAME@latest (or @greatest), NAME#STAGE.
_REF_RE = re.compile(
    rf"(?P<artifact>(?:{_DIRNAME}:)?{_NAME})"
    rf"(?:#(?P<stage>{_NAME})|@(?P<version>latest|greatest|v{_SEMVER}))\Z"
)

ARTIFACT_GRAMMAR = (
    "[dir:]name, where name is letters, digits, '-', '_' and '/', starting and ending "
    "with a letter or digit (dir may also hold '.'), e.g. churn or models/nlp:bert"
)
STAGE_GRAMMAR = (
    "letters, digits, '-', '_' and '/', starting and ending with a letter or digit, e.g. prod"
)
VERSION_GRAMMAR = "SemVer 2.0 with a leading v, e.g. v1.2.3, v1.0.0-rc.1 or v2.0.0+build.7"
TAG_GRAMMAR = (
    "NAME@vX.Y.Z, NAME@vX.Y.Z!, NAME#STAGE#N, NAME#STAGE!#N or NAME@deprecated "
    "(dir:name written dir=name)"
)


class Action(enum.Enum):
    """What a tag does, with GTO's event name and priority (its order within a commit)."""

    DEPRECATE = ("deprecation", 2)
    REGISTER = ("registration", 3)
    DEREGISTER = ("deregistration", 4)
    ASSIGN = ("assignment", 5)
    UNASSIGN = ("unassignment", 6)

    @property
    def event(self) -> str:
        return self.value[0]

    @property
    def priority(self) -> int:
        return self.value[1]


# ------------------------------------------------------------------ SemVer
def _prerelease_key(text: str) -> tuple[tuple[int, int, str], ...]:
    # SemVer 2.0 §11: numeric identifiers sort numerically and before alphanumeric ones.
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in text.split("."))


@total_ordering
@dataclass(frozen=True)
class SemVer:
    """A version as written (`text`, with its `v`), ordered by SemVer precedence."""

    text: str
    major: int
    minor: int
    patch: int
    prerelease: str | None
    build: str | None

    @classmethod
    def parse(cls, text: str) -> SemVer:
        found = cls.lenient(text)
        if found is None:
            raise InvalidVersion(version=text, grammar=VERSION_GRAMMAR)
        return found

    @classmethod
    def lenient(cls, text: str) -> SemVer | None:
        """The version in `text`, or None (a commit sha standing in for a version)."""
        match = _VERSION_RE.match(text)
        return None if match is None else cls._from_match(text, match)

    @classmethod
    def _from_match(cls, text: str, match: re.Match[str]) -> SemVer:
        return cls(
            text,
            int(match["major"]),
            int(match["minor"]),
            int(match["patch"]),
            match["prerelease"],
            match["build"],
        )

    @property
    def precedence(self) -> tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]:
        """Sort key; build metadata does not count (a release sorts after its prereleases)."""
        if self.prerelease is None:
            return (self.major, self.minor, self.patch, 1, ())
        return (self.major, self.minor, self.patch, 0, _prerelease_key(self.prerelease))

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, SemVer):
            return NotImplemented
        return (self.precedence, self.text) < (other.precedence, other.text)

    def bump(self, part: str) -> SemVer:
        """The next release: part is major, minor or patch (prerelease and build dropped)."""
        if part == "major":
            return SemVer.parse(f"v{self.major + 1}.0.0")
        if part == "minor":
            return SemVer.parse(f"v{self.major}.{self.minor + 1}.0")
        if self.prerelease is not None:  # v1.2.3-rc.1 -> v1.2.3, as SemVer orders them
            return SemVer.parse(f"v{self.major}.{self.minor}.{self.patch}")
        return SemVer.parse(f"v{self.major}.{self.minor}.{self.patch + 1}")

    def __str__(self) -> str:
        return self.text


FIRST_VERSION = "v0.0.1"


# ------------------------------------------------------------------ names
def check_artifact(name: str) -> str:
    """`name` if it is a valid artifact name (`dir:name` allowed), else InvalidArtifactName."""
    if _ARTIFACT_RE.match(name) is None:
        raise InvalidArtifactName(name=name, grammar=ARTIFACT_GRAMMAR)
    return name


def check_stage(stage: str) -> str:
    if _NAME_RE.match(stage) is None:
        raise InvalidStage(stage=stage, grammar=STAGE_GRAMMAR)
    return stage


def is_version(text: str) -> bool:
    return _VERSION_RE.match(text) is not None


def check_version(version: str) -> str:
    SemVer.parse(version)
    return version


def _name_in_tag(artifact: str) -> str:
    return artifact.replace(":", "=", 1)


def _name_from_tag(artifact: str) -> str:
    return artifact.replace("=", ":", 1)


# ------------------------------------------------------------------ tags
@dataclass(frozen=True)
class Tag:
    """One parsed registry tag. `artifact` is the full name with `:`, as people write it."""

    artifact: str
    action: Action
    version: str | None = None
    stage: str | None = None
    counter: int | None = None

    def __post_init__(self) -> None:
        needs_version = self.action in (Action.REGISTER, Action.DEREGISTER)
        needs_stage = self.action in (Action.ASSIGN, Action.UNASSIGN)
        if needs_version != (self.version is not None) or needs_stage != (self.stage is not None):
            raise ValueError(
                f"{self.action.name} tag with version={self.version!r}, stage={self.stage!r}"
            )


_TEMPLATES = {
    Action.REGISTER: "{artifact}@{version}",
    Action.DEREGISTER: "{artifact}@{version}!",
    Action.ASSIGN: "{artifact}#{stage}",
    Action.UNASSIGN: "{artifact}#{stage}!",
    Action.DEPRECATE: "{artifact}@deprecated",
}


def format_tag(tag: Tag) -> str:
    """The git tag name of `tag` (validating its parts); `parse_tag` reverses it."""
    check_artifact(tag.artifact)
    if tag.version is not None:
        check_version(tag.version)
    if tag.stage is not None:
        check_stage(tag.stage)
    text = _TEMPLATES[tag.action].format(
        artifact=_name_in_tag(tag.artifact), version=tag.version, stage=tag.stage
    )
    return text if tag.counter is None else f"{text}#{tag.counter}"


def parse_tag(name: str) -> Tag | None:
    """The registry event a git tag name encodes, or None when it is not in the grammar."""
    parts = split_tag(name)
    return None if parts is None else Tag(*parts)


def split_tag(name: str) -> tuple[str, Action, str | None, str | None, int | None] | None:
    """`parse_tag` as a plain tuple (artifact, action, version, stage, counter): the fast
    path for reading thousands of tags."""
    match = _TAG_RE.match(name)
    if match is None:
        return None
    groups = match.groups()  # by position: twice as fast as by name, for 11,000 tags
    artifact, stage, cancel = groups[_ARTIFACT], groups[_STAGE], groups[_STAGE_CANCEL]
    version, version_cancel, counter = groups[_VERSION], groups[_VERSION_CANCEL], groups[_COUNTER]
    number = int(counter) if counter is not None else None
    if "=" in artifact:
        artifact = _name_from_tag(artifact)
    if stage is not None:
        return artifact, Action.UNASSIGN if cancel else Action.ASSIGN, None, stage, number
    if version is not None:
        action = Action.DEREGISTER if version_cancel else Action.REGISTER
        return artifact, action, version, None, number
    return artifact, Action.DEPRECATE, None, None, number


def looks_like_registry_tag(name: str) -> bool:
    """True for tags that were probably meant for the registry (`x@...`, `x#...`), so that
    a malformed one is worth a warning while release tags like `v1.2.3` pass silently."""
    return ("@" in name or "#" in name) and not name.startswith(("@", "#"))


# ------------------------------------------------------------------ references
@dataclass(frozen=True)
class RegistryRef:
    """`NAME@vX.Y.Z`, `NAME@latest` or `NAME#STAGE` as typed on the command line."""

    artifact: str
    version: str | None = None
    latest: bool = False
    stage: str | None = None

    def __str__(self) -> str:
        if self.stage is not None:
            return f"{self.artifact}#{self.stage}"
        return f"{self.artifact}@{'latest' if self.latest else self.version}"


def parse_ref(text: str) -> RegistryRef | None:
    """The registry reference in `text`, or None when it is not one."""
    match = _REF_RE.match(text)
    if match is None:
        return None
    if match["stage"] is not None:
        return RegistryRef(match["artifact"], stage=match["stage"])
    if match["version"] in ("latest", "greatest"):
        return RegistryRef(match["artifact"], latest=True)
    return RegistryRef(match["artifact"], version=match["version"])


# ------------------------------------------------------------------ messages
_MESSAGES = {
    Action.REGISTER: "Registering artifact {artifact} version {version}",
    Action.DEREGISTER: "Deregistering artifact {artifact} version {version}",
    Action.ASSIGN: "Assigning stage {stage} to artifact {artifact} version {version}",
    Action.UNASSIGN: "Unassigning stage '{stage}' to artifact '{artifact}' version '{version}'",
    Action.DEPRECATE: "Deprecating artifact '{artifact}'",
}


def default_message(
    action: Action, artifact: str, version: str | None = None, stage: str | None = None
) -> str:
    """The tag message GTO writes when none is given (both tools ignore it when reading)."""
    return _MESSAGES[action].format(artifact=artifact, version=version, stage=stage)
