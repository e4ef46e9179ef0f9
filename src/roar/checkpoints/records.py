"""Checkpoint commits and refs as plain JSON-ready records: the shapes `roar ckpt ...
--json` prints, documented in docs/json/ckpt-*.schema.json."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from roar.checkpoints.model import Commit, Ref

__all__ = ["commit_record", "ref_record", "refs_by_target"]


def refs_by_target(refs: Iterable[Ref]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for ref in refs:
        found.setdefault(ref.target, []).append(ref.name)
    return {target: sorted(names) for target, names in found.items()}


def commit_record(
    commit: Commit, refs: Mapping[str, Sequence[str]], *, files: bool = False
) -> dict[str, Any]:
    manifest = commit.manifest
    record: dict[str, Any] = {
        "id": commit.id,
        "state": commit.state.value,
        "visible": commit.visible,
        "refs": list(refs.get(commit.id, [])),
        "created_at": manifest.created_at if manifest else None,
        "message": manifest.message if manifest else None,
        "parent": manifest.parent if manifest else None,
        "group": manifest.group_id if manifest else None,
        "file_count": len(manifest.files) if manifest else None,
        "size": manifest.size if manifest else None,
    }
    if files:
        record["metadata"] = dict(manifest.metadata) if manifest else {}
        record["files"] = [
            {"path": f.path, "size": f.size, "blake3": f.blake3}
            for f in (manifest.files if manifest else ())
        ]
    return record


def ref_record(ref: Ref) -> dict[str, Any]:
    return {
        "name": ref.name,
        "target": ref.target,
        "generation": ref.generation,
        "updated_at": ref.updated_at,
    }
