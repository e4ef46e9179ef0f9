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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from roar.registry.git import TagRecord
from roar.registry.tags import (
    Action,
    SemVer,
    Tag,
    is_version,
    looks_like_registry_tag,
    parse_tag,
)

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


@dataclass(frozen=True)
class Event:
    """One registry tag, resolved: for stage events, `version` is the version at `commit`."""

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


@dataclass
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


@dataclass
class VersionState:
    artifact: str
    version: str
    commit: str
    registration: Event | None = None
    deregistration: Event | None = None
    stages: dict[str, StageState] = field(default_factory=dict)

    @property
    def semver(self) -> SemVer | None:
        """None for a bare commit (an assignment where no version was registered)."""
        return SemVer.parse(self.version) if is_version(self.version) else None

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


@dataclass
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


def _date_key(event: Event) -> tuple[int, int, int, str]:
    # Within one second, a deprecation goes last: it ends what came before it.
    rank = 9 if event.action is Action.DEPRECATE else event.action.priority
    return (event.timestamp, rank, event.counter or 0, event.tag)


def _order(events: list[Event]) -> list[Event]:
    """Date and priority place events without a counter; counters order the rest."""
    by_date = sorted(events, key=_date_key)
    numbered = sorted(
        (e for e in events if e.counter is not None), key=lambda e: (e.counter, e.tag)
    )
    slots = iter(numbered)
    ordered = [next(slots) if e.counter is not None else e for e in by_date]
    return [_with_seq(e, index) for index, e in enumerate(ordered)]


def _with_seq(event: Event, seq: int) -> Event:
    return Event(**{**vars(event), "seq": seq})


def _classify(
    records: Iterable[TagRecord],
) -> tuple[list[tuple[TagRecord, Tag]], list[tuple[str, str]]]:
    parsed, skipped = [], []
    for record in records:
        tag = parse_tag(record.name)
        if tag is None:
            if looks_like_registry_tag(record.name):
                skipped.append((record.name, "not in the GTO tag grammar"))
            continue
        if not record.annotated:
            skipped.append((record.name, "lightweight; registry tags are annotated"))
        elif record.target_type != "commit":
            skipped.append((record.name, f"points to a {record.target_type}, not a commit"))
        else:
            parsed.append((record, tag))
    return parsed, skipped


def build_state(records: Sequence[TagRecord]) -> RegistryState:
    """The whole registry from one `git for-each-ref` listing."""
    parsed, skipped = _classify(records)
    raw: dict[str, list[Event]] = {}
    for record, tag in parsed:
        raw.setdefault(tag.artifact, []).append(
            Event(
                tag=record.name,
                artifact=tag.artifact,
                action=tag.action,
                version=tag.version,
                stage=tag.stage,
                counter=tag.counter,
                commit=record.commit,
                author=record.tagger,
                author_email=record.tagger_email,
                timestamp=record.timestamp,
                message=record.message,
            )
        )
    artifacts = {name: _artifact(name, _order(events)) for name, events in raw.items()}
    by_tag = {e.tag: e for a in artifacts.values() for e in a.events}
    return RegistryState(dict(sorted(artifacts.items())), skipped, by_tag)


def _artifact(name: str, ordered: list[Event]) -> ArtifactState:
    artifact = ArtifactState(name)
    for event in ordered:  # versions first: stage events look their version up by commit
        if event.action in (Action.REGISTER, Action.DEREGISTER):
            assert event.version is not None
            version = artifact.versions.setdefault(
                event.version, VersionState(name, event.version, event.commit)
            )
            if event.action is Action.REGISTER and version.registration is None:
                version.registration = event
                version.commit = event.commit
            elif event.action is Action.DEREGISTER and version.deregistration is None:
                version.deregistration = event
    at_commit: dict[str, list[VersionState]] = {}
    for version in artifact.versions.values():
        if version.registered:
            at_commit.setdefault(version.commit, []).append(version)
    for event in ordered:
        if event.action in (Action.ASSIGN, Action.UNASSIGN):
            assert event.stage is not None
            found = _pick(at_commit.get(event.commit, []))
            if found is None:
                found = artifact.versions.setdefault(
                    event.commit, VersionState(name, event.commit, event.commit)
                )
            stage = event.stage
            event = Event(**{**vars(event), "version": found.version})
            found.stages.setdefault(stage, StageState(stage)).events.append(event)
        elif event.action is Action.DEPRECATE:
            artifact.deprecation = event
        artifact.events.append(event)
    return artifact
