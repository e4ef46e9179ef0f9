"""Reading a registry: its tags, listed once per command, its rules and artifacts.yaml, and
the lookups a command makes (an artifact, a version, the version in a stage)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

from roar.config import Config
from roar.errors import NotInStage, RegistryGitError, UnknownArtifact, UnknownVersion, UsageError
from roar.registry.git import RegistryGit, TagListing, TagRecord
from roar.registry.index import Annotation, read_index
from roar.registry.rules import Rules, load_rules
from roar.registry.state import ArtifactState, Event, RegistryState, VersionState, build_state
from roar.registry.tags import (
    RegistryRef,
    check_artifact,
    check_stage,
    check_version,
    parse_ref,
    split_tag,
)
from roar.registry.views import describe_doc, history_events, registry_doc

__all__ = ["RegistryReads"]


def _hint_names(name: str, known: Sequence[str]) -> str:
    import difflib  # only on the error path

    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class RegistryReads:
    """What a registry command reads: the tags, listed once and kept for the command, the
    rules and artifacts.yaml, and the lookups over them."""

    def __init__(
        self, git: RegistryGit, config: Config | None = None, *, pending: TagListing | None = None
    ) -> None:
        """`pending`: a listing already started (`RegistryGit.start_tags`), used by the
        first read it covers, so the caller's start-up overlaps git's work."""
        self.git = git
        self.config = config
        self._scoped: dict[str, RegistryState] = {}
        self._pending = pending

    def _records(self, scope: str | None, *, messages: bool = True) -> list[TagRecord]:
        pending, self._pending = self._pending, None
        if pending is not None:
            if pending.scope == scope and (pending.messages or not messages):
                return pending.records()
            pending.close()
        return self.git.read_tags(scope, messages=messages)

    def close(self) -> None:
        if self._pending is not None:
            self._pending.close()
            self._pending = None

    # ---------------------------------------------------------------- lazily read, once
    @cached_property
    def state(self) -> RegistryState:
        """Every artifact, from one `git for-each-ref` over all tags."""
        return build_state(self._records(None))

    @cached_property
    def summary(self) -> RegistryState:
        """Every artifact without tag messages and taggers (the table needs neither)."""
        if "state" in self.__dict__:
            return self.state
        return build_state(self._records(None, messages=False))

    def state_of(self, name: str) -> RegistryState:
        """A state holding `name`: from one for-each-ref over that artifact's tags only,
        unless the whole state is loaded already (so one-artifact commands stay fast in
        registries of many thousands of tags)."""
        if "state" in self.__dict__:
            return self.state
        found = self._scoped.get(name)
        if found is None:
            found = self._scoped[name] = build_state(self._records(name))
        return found

    def _forget(self) -> None:
        """Tags changed: the next read lists them again."""
        self.__dict__.pop("state", None)
        self.__dict__.pop("summary", None)
        self._scoped.clear()

    @cached_property
    def rules(self) -> Rules:
        return load_rules(self.git, self.config)

    @cached_property
    def index(self) -> dict[str, Annotation]:
        return read_index(self.git)

    @property
    def warnings(self) -> list[str]:
        """One line about the tags the state skipped (malformed, lightweight), if any."""
        loaded = [self.__dict__[k] for k in ("state", "summary") if k in self.__dict__][:1]
        loaded = loaded or list(self._scoped.values())
        skipped = [s for state in loaded for s in state.skipped]
        if not skipped:
            return []
        shown = ", ".join(f"{name} ({why})" for name, why in skipped[:5])
        more = f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""
        return [f"skipped {len(skipped)} tag(s) the registry cannot use: {shown}{more}"]

    # ---------------------------------------------------------------- lookups
    def artifact(self, name: str) -> ArtifactState:
        """The artifact's state; an annotated artifact without tags has an empty one."""
        check_artifact(name)
        found = self.state_of(name).artifacts.get(name)
        if found is not None:
            return found
        if name in self.index:
            return ArtifactState(name)
        tagged = {parts[0] for t in self.git.tag_names() if (parts := split_tag(t)) is not None}
        known = sorted({*tagged, *self.index})
        raise UnknownArtifact(name=name, hint=_hint_names(name, known))

    def version(self, name: str, version: str) -> VersionState:
        check_version(version)
        artifact = self.artifact(name)
        found = artifact.versions.get(version)
        if found is None or not found.registered:
            live = ", ".join(v.version for v in artifact.live_versions()) or "none yet"
            raise UnknownVersion(
                name=name, what=f"version {version}", hint=f" (registered: {live})"
            )
        return found

    def latest(self, name: str) -> VersionState:
        found = self.artifact(name).latest()
        if found is None:
            raise UnknownVersion(name=name, what="registered version", hint="")
        return found

    def which(self, name: str, stage: str, *, last_only: bool = False) -> VersionState:
        """The version in `stage` (the most recently assigned one when several are)."""
        check_stage(stage)
        found = self.artifact(name).in_stage(stage, last_only)
        if not found:
            raise NotInStage(
                f"no version of {name} is in stage {stage!r}; "
                f"`roar registry assign {name} {stage}` puts one there"
            )
        return found[0]

    def resolve(self, ref: RegistryRef | str) -> VersionState:
        """The version `NAME@vX.Y.Z`, `NAME@latest` or `NAME#STAGE` names."""
        parsed = parse_ref(ref) if isinstance(ref, str) else ref
        if parsed is None:
            raise UsageError(
                f"{ref!r} is not a registry reference; write NAME@vX.Y.Z, NAME@latest or NAME#STAGE"
            )
        if parsed.stage is not None:
            return self.which(parsed.artifact, parsed.stage)
        if parsed.latest:
            return self.latest(parsed.artifact)
        assert parsed.version is not None
        return self.version(parsed.artifact, parsed.version)

    def table(self, *, last_only: bool = False) -> dict[str, Any]:
        """`show` without a name: per artifact its latest version and each stage's version,
        in `gto show --json`'s shape."""
        return registry_doc(self.summary, self.rules, self.index, last_only)

    def history(self, name: str | None = None, *, ascending: bool = False) -> list[Event]:
        """Every event (of `name`), newest first unless `ascending`."""
        if name is not None:
            self.artifact(name)  # refuses unknown names, with a suggestion
            if name not in self.state_of(name).artifacts:
                return []
            return history_events(self.state_of(name), name, ascending)
        return history_events(self.state, None, ascending)

    def versions(self, ref: str) -> list[VersionState]:
        """NAME: its live versions, highest first; NAME@vX.Y.Z, NAME@latest, NAME#STAGE: one."""
        if "@" in ref or "#" in ref:
            return [self.resolve(ref)]
        return self.artifact(ref).live_versions()

    def check_ref(self, ref: str) -> Event | None:
        """The event a tag stands for; None for tags outside the registry (CI can run this
        on every tag push). A registry tag missing here is an error: fetch tags first."""
        name = ref.removeprefix("refs/tags/")
        parts = split_tag(name)
        if parts is None:
            return None
        state = self.state_of(parts[0])
        event = state.by_tag.get(name)
        if event is None and name not in {n for n, _ in state.skipped}:
            raise RegistryGitError(
                f"tag {name} does not exist in {self.git.where}; fetch tags first "
                "(`git fetch --tags`, or `fetch-depth: 0` in actions/checkout)"
            )
        return event

    def stages(self, *, allowed: bool = False, used: bool = False) -> list[str]:
        """Allowed stages in their configured order (`allowed`), stages tags have used
        (`used`), or by default the allowed ones followed by any others in use."""
        configured = list(self.rules.stages)
        if allowed:
            return configured
        in_use = self.summary.stages_used
        if used:
            return in_use
        return configured + [s for s in in_use if s not in configured]

    def describe(self, ref: str) -> dict[str, Any]:
        """artifacts.yaml's entry for NAME (as committed at VERSION for NAME@VERSION) with
        the version's registry facts; the latest version when none is named."""
        if "@" in ref or "#" in ref:
            version: VersionState | None = self.resolve(ref)
            assert version is not None
            annotation = read_index(self.git, version.commit).get(version.artifact)
            return describe_doc(version.artifact, annotation, version)
        artifact = self.artifact(ref)
        return describe_doc(ref, self.index.get(ref), artifact.latest())
