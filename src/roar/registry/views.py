"""What the read commands return, as plain data: pure functions of the registry state.

JSON documents use GTO's keys and shapes (`gto show --json`, `gto history --json`,
`gto check-ref --json`), so scripts written for GTO read roar's output unchanged; roar
adds `hash` (the `roar-hash:` trailer) where a version is described. Each shape is a
JSON Schema in docs/json/registry-*.schema.json.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from roar.registry.index import Annotation
from roar.registry.rules import Rules
from roar.registry.state import ArtifactState, Event, RegistryState, StageState, VersionState
from roar.registry.tags import Action

__all__ = [
    "check_ref_doc",
    "describe_doc",
    "event_doc",
    "history_doc",
    "history_events",
    "history_rows",
    "iso",
    "registry_doc",
    "registry_rows",
    "stage_columns",
    "version_doc",
    "version_rows",
]


def iso(timestamp: int, sep: str = "T") -> str:
    """GTO's timestamp format: UTC, seconds, `+00:00`."""
    import datetime as dt  # not needed by the registry table

    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).isoformat(sep)


def stage_columns(state: RegistryState, rules: Rules) -> list[str]:
    """The allowed stages in their configured order, then (sorted) every other stage some
    version is in now, deprecated artifacts included, as GTO picks its columns."""
    allowed = list(rules.stages)
    live = {
        s.stage
        for a in state.artifacts.values()
        for v in a.versions.values()
        if v.active
        for s in v.stages.values()
        if s.active
    }
    return allowed + sorted(live - set(allowed))


def _visible(state: RegistryState, index: dict[str, Annotation]) -> list[ArtifactState]:
    artifacts = [a for a in state.artifacts.values() if a.active]
    artifacts += [ArtifactState(name) for name in index if name not in state.artifacts]
    return sorted(artifacts, key=lambda a: a.name)


def registry_doc(
    state: RegistryState, rules: Rules, index: dict[str, Annotation], last_only: bool = False
) -> dict[str, Any]:
    """`gto show --json`: per artifact its latest version and the version in each stage."""
    columns = stage_columns(state, rules)
    doc = {}
    for artifact in _visible(state, index):
        latest = artifact.latest()
        in_stage = artifact.stage_map(last_only)
        doc[artifact.name] = {
            "version": latest.version if latest else None,
            "stage": {s: in_stage[s].version if s in in_stage else None for s in columns},
            "registered": artifact.registered,
            "active": artifact.active,
        }
    return doc


def registry_rows(doc: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The registry table: name, latest, then one `#stage` column per stage."""
    stages = list(next(iter(doc.values()))["stage"]) if doc else []
    header = ["name", "latest", *(f"#{s}" for s in stages)]
    rows = []
    for name, entry in doc.items():
        label = name if entry["registered"] else f"*{name}"
        cells = [entry["version"], *(entry["stage"][s] for s in stages)]
        rows.append([label, *(c or "-" for c in cells)])
    return header, rows


def event_doc(event: Event, version: VersionState | None = None) -> dict[str, Any]:
    """One event as GTO nests it in `show NAME --json` (registrations, assignments...)."""
    doc: dict[str, Any] = {
        "priority": event.action.priority,
        "addition": event.action in (Action.REGISTER, Action.ASSIGN, Action.DEPRECATE),
        "artifact": event.artifact,
        "created_at": iso(event.timestamp),
        "author": event.author,
        "author_email": event.author_email,
        "message": event.message,
        "commit_hexsha": event.commit,
        "tag": event.tag,
        "version": version.version if version else event.version,
    }
    if event.stage is not None:
        doc["stage"] = event.stage
        doc["event"] = event.action.event
    return doc


def _stage_doc(version: VersionState, stage: StageState) -> dict[str, Any]:
    first = stage.events[0]
    activated = stage.activated
    last = stage.events[-1]
    return {
        "artifact": version.artifact,
        "commit_hexsha": version.commit,
        "version": version.version,
        "stage": stage.stage,
        "assignments": [event_doc(e) for e in stage.events if e.action is Action.ASSIGN],
        "unassignments": [event_doc(e) for e in stage.events if e.action is Action.UNASSIGN],
        "is_active": stage.active,
        "activated_at": iso(activated.timestamp) if activated else None,
        "created_at": iso(first.timestamp),
        "author": last.author,
        "author_email": last.author_email,
        "message": last.message,
        "ref": last.tag,
    }


def _origin(version: VersionState) -> Event | None:
    """The event that made the version: its registration, else its first assignment."""
    if version.registration is not None:
        return version.registration
    events = [e for s in version.stages.values() for e in s.events]
    return min(events, key=lambda e: e.seq, default=None)


def version_doc(version: VersionState, last_only: bool = False) -> dict[str, Any]:
    """One version as `gto show NAME --json` lists it (without GTO's commit enrichments),
    plus roar's `hash`."""
    origin = _origin(version)
    return {
        "artifact": version.artifact,
        "version": version.version,
        "commit_hexsha": version.commit,
        "registrations": [event_doc(version.registration)] if version.registration else [],
        "deregistrations": [event_doc(version.deregistration)] if version.deregistration else [],
        "stages": [_stage_doc(version, s) for s in version.active_stages(last_only)],
        "is_active": version.active,
        "activated_at": iso(origin.timestamp) if origin else None,
        "created_at": iso(origin.timestamp) if origin else None,
        "author": origin.author if origin else None,
        "author_email": origin.author_email if origin else None,
        "message": origin.message if origin else None,
        "ref": version.registration.tag if version.registration else version.commit,
        "discovered": False,
        "hash": version.digest,
    }


def version_rows(
    versions: Sequence[VersionState], last_only: bool = False
) -> tuple[list[str], list[list[str]]]:
    header = ["artifact", "version", "stage", "created_at", "ref", "hash"]
    rows = []
    for version in versions:
        origin = _origin(version)
        rows.append(
            [
                version.artifact,
                version.version,
                ", ".join(s.stage for s in version.active_stages(last_only)),
                iso(origin.timestamp, " ") if origin else "-",
                version.registration.tag if version.registration else version.commit,
                (version.digest or "-")[:12],
            ]
        )
    return header, rows


def history_events(
    state: RegistryState, name: str | None = None, ascending: bool = False
) -> list[Event]:
    """Events oldest first (newest first unless `ascending`). One artifact's events keep
    their counter order; artifacts interleave by date."""
    artifacts = [state.artifacts[name]] if name is not None else list(state.artifacts.values())
    import heapq

    merged = list(heapq.merge(*(a.events for a in artifacts), key=lambda e: e.timestamp))
    return merged if ascending else merged[::-1]


def history_doc(event: Event) -> dict[str, Any]:
    """One entry of `gto history --json`."""
    return {
        "timestamp": iso(event.timestamp),
        "artifact": event.artifact,
        "event": event.action.event,
        "priority": event.action.priority,
        "version": event.version,
        "stage": event.stage,
        "commit": event.commit,
        "author": event.author,
        "author_email": event.author_email,
        "message": event.message,
        "ref": event.tag,
    }


def history_rows(events: Sequence[Event]) -> tuple[list[str], list[list[str]]]:
    header = ["timestamp", "artifact", "event", "version", "stage", "commit", "ref"]
    rows = [
        [
            iso(e.timestamp, " "),
            e.artifact,
            e.action.event,
            e.version or "-",
            e.stage or "-",
            e.commit[:7],
            e.tag,
        ]
        for e in events
    ]
    return header, rows


def check_ref_doc(event: Event) -> dict[str, Any]:
    """`gto check-ref --json`: the event a pushed tag stands for."""
    doc: dict[str, Any] = {
        "artifact": event.artifact,
        "created_at": iso(event.timestamp),
        "author": event.author,
        "author_email": event.author_email,
        "message": event.message,
        "commit_hexsha": event.commit,
        "tag": event.tag,
        "version": event.version,
    }
    if event.stage is not None:
        doc["stage"] = event.stage
    doc["event"] = event.action.event
    return doc


def describe_doc(
    name: str, annotation: Annotation | None, version: VersionState | None
) -> dict[str, Any]:
    """What `artifacts.yaml` says about an artifact, with the version's registry facts."""
    return {
        "artifact": name,
        "type": annotation.type if annotation else None,
        "path": annotation.path if annotation else None,
        "virtual": annotation.virtual if annotation else True,
        "description": annotation.description if annotation else None,
        "labels": list(annotation.labels) if annotation else [],
        "custom": annotation.custom if annotation else None,
        "version": version.version if version else None,
        "commit_hexsha": version.commit if version else None,
        "ref": version.registration.tag if version and version.registration else None,
        "stages": [s.stage for s in version.active_stages()] if version else [],
        "hash": version.digest if version else None,
    }
