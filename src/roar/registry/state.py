"""Registry state from tag records: a pure function, ordered by counter and SemVer.

GTO orders events by the tagger date, which has one-second resolution, so two
assignments made in the same second come out in either order. Here an artifact's events
are sorted by date only to place the events that carry no counter (simple-form tags);
every event with a counter then takes the slots of its kind in counter order, so `#5`
always comes after `#4`, whatever the clocks said.

A stage assignment belongs to the version registered at the commit it points to (one
version per artifact per commit); with none registered there, the commit sha stands in
for the version, as GTO does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import attrgetter

from roar.registry.git import TagRecord
from roar.registry.tags import Action, SemVer, looks_like_registry_tag, split_tag

__all__ = [
    "HASH_TRAILER",
    "ArtifactState",
    "Event",
    "RegistryState",
    "StageState",
    "VersionState",
    "build_state",
    "hash_from_message",
]

#: The trailer `roar registry register` writes into the tag message to link lineage.
HASH_TRAILER = "roar-hash:"


def hash_from_message(message: str) -> str | None:
    for line in reversed(message.splitlines()):
        if line.startswith(HASH_TRAILER):
            value = line[len(HASH_TRAILER) :].strip().lower()
            return value or None
    return None


#: Order within one second: GTO's priorities, except that a deprecation goes last (it
#: ends what came before it).
_RANK = {action: 9 if action is Action.DEPRECATE else action.priority for action in Action}


@dataclass(slots=True)
class Event:
    """One registry tag, resolved: for stage events, `version` is the version at `commit`.
    Filled in by `build_state` (seq, a stage event's version) and read-only after that."""

    tag: str
    artifact: str
    action: Action
    version: str | None
    stage: str | None
    counter: int | None
    commit: str
    author: str
    author_email: str
    timestamp: int
    message: str
    seq: int = 0  # position in the artifact's event order
    #: (date, rank within a second, counter, tag): places events that carry no counter.
    date_key: tuple[int, int, int, str] = field(init=False)
    #: (counter, tag): orders the events that carry one.
    counter_key: tuple[int, str] = field(init=False)

    def __post_init__(self) -> None:
        counter = self.counter or 0
        self.date_key = (self.timestamp, _RANK[self.action], counter, self.tag)
        self.counter_key = (counter, self.tag)


@dataclass(slots=True)
class StageState:
    """One stage of one version: its assign/unassign events in order."""

    stage: str
    events: list[Event] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return bool(self.events) and self.events[-1].action is Action.ASSIGN

    @property
    def activated(self) -> Event | None:
        """The assignment that put the version in this stage, while it is there."""
        return self.events[-1] if self.active else None


@dataclass(slots=True)
class VersionState:
    artifact: str
    version: str
    commit: str
    registration: Event | None = None
    deregistration: Event | None = None
    stages: dict[str, StageState] = field(default_factory=dict)
    #: None for a bare commit (an assignment where no version was registered).
    semver: SemVer | None = field(init=False)

    def __post_init__(self) -> None:
        self.semver = SemVer.lenient(self.version) if self.version[:1] == "v" else None

    @property
    def registered(self) -> bool:
        return self.registration is not None

    @property
    def active(self) -> bool:
        return self.deregistration is None

    @property
    def digest(self) -> str | None:
        """The content hash `roar registry register` recorded, if it did."""
        return hash_from_message(self.registration.message) if self.registration else None

    def active_stages(self, last_only: bool = False) -> list[StageState]:
        """Stages this version is in, most recently assigned first (only that one with
        `last_only`, like GTO's `--av 1`)."""
        live = [s for s in self.stages.values() if s.active]
        live.sort(key=lambda s: s.events[-1].seq, reverse=True)
        return live[:1] if last_only else live


@dataclass(slots=True)
class ArtifactState:
    name: str
    events: list[Event] = field(default_factory=list)
    versions: dict[str, VersionState] = field(default_factory=dict)
    deprecation: Event | None = None

    @property
    def active(self) -> bool:
        """False once deprecated; a registration after the deprecation revives it (GTO)."""
        deprecation = self.deprecation
        return deprecation is None or any(
            e.action is Action.REGISTER and e.seq > deprecation.seq for e in self.events
        )

    @property
    def registered(self) -> bool:
        return bool(self.events)

    def live_versions(self) -> list[VersionState]:
        """Versions not deregistered, highest SemVer first; bare commits (no registration)
        after them, newest assignment first."""
        live = [v for v in self.versions.values() if v.active]
        named = sorted((v for v in live if v.registered), key=_semver_key, reverse=True)
        bare = [v for v in live if not v.registered]
        bare.sort(key=lambda v: max((s.events[-1].seq for s in v.stages.values()), default=-1))
        return named + bare[::-1]

    def latest(self) -> VersionState | None:
        return next((v for v in self.live_versions() if v.registered), None)

    def stage_map(self, last_only: bool = False) -> dict[str, VersionState]:
        """Each stage -> the live version most recently assigned to it (one pass)."""
        best: dict[str, tuple[int, VersionState]] = {}
        for version in self.versions.values():
            if not version.active:
                continue
            for state in version.active_stages(last_only):
                seq = state.events[-1].seq
                if state.stage not in best or seq > best[state.stage][0]:
                    best[state.stage] = (seq, version)
        return {stage: version for stage, (_, version) in best.items()}

    def in_stage(self, stage: str, last_only: bool = False) -> list[VersionState]:
        """Versions in `stage`, the most recently assigned first."""
        found = []
        for version in self.live_versions():
            for state in version.active_stages(last_only):
                if state.stage == stage and state.activated is not None:
                    found.append((state.activated.seq, version))
        return [v for _, v in sorted(found, key=lambda pair: pair[0], reverse=True)]

    def version_at(self, commit: str) -> VersionState | None:
        """The registered, live version at `commit` (one per artifact per commit)."""
        here = [v for v in self.versions.values() if v.commit == commit and v.registered]
        return _pick(here)

    def next_counter(self) -> int:
        return max((e.counter for e in self.events if e.counter is not None), default=0) + 1

    @property
    def stages_used(self) -> set[str]:
        return {e.stage for e in self.events if e.stage is not None}


def _pick(candidates: list[VersionState]) -> VersionState | None:
    if len(candidates) == 1:
        return candidates[0]
    live = [v for v in candidates if v.active]
    return max(live or candidates, key=_semver_key, default=None)


def _semver_key(version: VersionState) -> tuple[object, ...]:
    semver = version.semver
    return (1, semver.precedence, semver.text) if semver else (0, (), version.version)


@dataclass
class RegistryState:
    artifacts: dict[str, ArtifactState]
    #: (tag name, why) for tags that look like registry tags but cannot be used.
    skipped: list[tuple[str, str]]
    by_tag: dict[str, Event]

    @property
    def stages_used(self) -> list[str]:
        return sorted(set().union(*(a.stages_used for a in self.artifacts.values())))


_BY_DATE = attrgetter("date_key")
_BY_COUNTER = attrgetter("counter_key")


def _order(events: list[Event]) -> list[Event]:
    """Date and priority place events without a counter; counters order the rest."""
    by_date = sorted(events, key=_BY_DATE)
    numbered = sorted((e for e in events if e.counter is not None), key=_BY_COUNTER)
    slots = iter(numbered)
    ordered = [next(slots) if e.counter is not None else e for e in by_date]
    for seq, event in enumerate(ordered):
        event.seq = seq
    return ordered


def build_state(records: Sequence[TagRecord]) -> RegistryState:
    """The whole registry (or one artifact's part) from one `git for-each-ref` listing."""
    raw: dict[str, list[Event]] = {}
    skipped: list[tuple[str, str]] = []
    for record in records:
        parts = split_tag(record.name)
        if parts is None:
            if looks_like_registry_tag(record.name):
                skipped.append((record.name, "not in the GTO tag grammar"))
            continue
        if not record.annotated:
            skipped.append((record.name, "lightweight; registry tags are annotated"))
            continue
        if record.target_type != "commit":
            skipped.append((record.name, f"points to a {record.target_type}, not a commit"))
            continue
        artifact, action, version, stage, counter = parts
        raw.setdefault(artifact, []).append(
            Event(
                record.name,
                artifact,
                action,
                version,
                stage,
                counter,
                record.commit,
                record.tagger,
                record.tagger_email,
                record.timestamp,
                record.message,
            )
        )
    artifacts = {name: _artifact(name, _order(events)) for name, events in sorted(raw.items())}
    by_tag = {e.tag: e for a in artifacts.values() for e in a.events}
    return RegistryState(artifacts, skipped, by_tag)


def _artifact(name: str, ordered: list[Event]) -> ArtifactState:
    artifact = ArtifactState(name, events=ordered)
    versions = artifact.versions
    stage_events = []
    for event in ordered:  # versions first: stage events look their version up by commit
        if event.stage is not None:
            stage_events.append(event)
            continue
        action = event.action
        if action is Action.DEPRECATE:
            artifact.deprecation = event
            continue
        assert event.version is not None
        version = versions.get(event.version)
        if version is None:
            version = versions[event.version] = VersionState(name, event.version, event.commit)
        if action is Action.REGISTER:
            if version.registration is None:
                version.registration = event
                version.commit = event.commit
        elif version.deregistration is None:
            version.deregistration = event
    candidates: dict[str, list[VersionState]] = {}
    for version in versions.values():
        if version.registered:
            candidates.setdefault(version.commit, []).append(version)
    at_commit = {commit: _pick(found) for commit, found in candidates.items()}
    for event in stage_events:
        found = at_commit.get(event.commit)
        if found is None:
            found = versions.get(event.commit)
            if found is None:
                found = versions[event.commit] = VersionState(name, event.commit, event.commit)
        event.version = found.version
        name_of_stage = event.stage
        assert name_of_stage is not None
        stage = found.stages.get(name_of_stage)
        if stage is None:
            stage = found.stages[name_of_stage] = StageState(name_of_stage)
        stage.events.append(event)
    return artifact
