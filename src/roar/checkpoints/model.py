"""What a checkpoint store holds, as plain values, and the one key layout and JSON form
every backend stores them in (pure: no I/O here).

Layout under the store's root (a directory, or an S3 prefix)::

    nodes/<folder_id>.json              a folder: name, parent, state, its commit
    staging/<folder_id>/...             (local stores) the files of a STAGING folder
    commits/<commit_id>/files/<path>    the committed files, under a never-reused id
    commits/<commit_id>/manifest.json   paths, sizes, BLAKE3, message, metadata, parent, group
    commits/<commit_id>/COMMITTED       the create-only marker: the BLAKE3 of the manifest
    groups/<group_id>/group.json        a commit group
    groups/<group_id>/members/<id>      one empty key per commit made in the group
    groups/<group_id>/SEALED            create-only: the member commits, visible together
    refs/<name>.json                    a ref: target id + generation, moved by CAS

A commit is visible once its marker exists and names the manifest's hash, and, when it
belongs to a group, once that group is sealed with it. Nothing else makes it visible.
"""

from __future__ import annotations

import enum
import json
import re
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from roar.errors import UsageError

__all__ = [
    "COMMITTED_MARKER",
    "Commit",
    "FileEntry",
    "Folder",
    "FolderState",
    "Group",
    "Manifest",
    "Ref",
    "check_ref_name",
    "commit_prefix",
    "decode_json",
    "encode_json",
    "new_id",
    "ref_key",
]

COMMITTED_MARKER = "COMMITTED"
FORMAT = 1
_REF_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


class FolderState(str, enum.Enum):
    STAGING = "STAGING"  # writable
    SEALING = "SEALING"  # write barrier taken; being hashed and published
    COMMITTED = "COMMITTED"  # immutable


def new_id(kind: str) -> str:
    """A never-reused id that sorts by creation time: `c_` + 16 hex of ns + 8 random hex."""
    return f"{kind}_{time.time_ns():016x}{secrets.token_hex(4)}"


def check_ref_name(name: str) -> str:
    if not _REF_NAME.fullmatch(name):
        raise UsageError(
            f"bad ref name {name!r}: use letters, digits, '.', '_' or '-' (at most 128), "
            "starting with a letter or digit"
        )
    return name


def ref_key(name: str) -> str:
    return f"refs/{check_ref_name(name)}.json"


def commit_prefix(commit_id: str) -> str:
    return f"commits/{commit_id}"


def encode_json(value: Mapping[str, Any]) -> bytes:
    return json.dumps(value, sort_keys=True, indent=1).encode("utf-8") + b"\n"


def decode_json(data: bytes) -> dict[str, Any]:
    value = json.loads(data.decode("utf-8"))
    if not isinstance(value, dict):
        raise TypeError("not a JSON object")
    return value


@dataclass(frozen=True)
class FileEntry:
    path: str  # relative, with '/' separators
    size: int
    blake3: str


@dataclass(frozen=True)
class Manifest:
    commit_id: str
    folder_id: str
    name: str
    message: str
    files: tuple[FileEntry, ...]
    created_at: float
    parent: str | None = None
    group_id: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    def to_json(self) -> bytes:
        return encode_json(
            {
                "format": FORMAT,
                "commit_id": self.commit_id,
                "folder_id": self.folder_id,
                "name": self.name,
                "message": self.message,
                "created_at": self.created_at,
                "parent": self.parent,
                "group_id": self.group_id,
                "metadata": dict(self.metadata),
                "files": [{"path": f.path, "size": f.size, "blake3": f.blake3} for f in self.files],
            }
        )

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        raw = decode_json(data)
        return cls(
            commit_id=str(raw["commit_id"]),
            folder_id=str(raw["folder_id"]),
            name=str(raw["name"]),
            message=str(raw["message"]),
            created_at=float(raw["created_at"]),
            parent=raw.get("parent"),
            group_id=raw.get("group_id"),
            metadata=dict(raw.get("metadata") or {}),
            files=tuple(
                FileEntry(str(f["path"]), int(f["size"]), str(f["blake3"])) for f in raw["files"]
            ),
        )


@dataclass(frozen=True)
class Commit:
    """A commit as a reader sees it. `state` is COMMITTED only once its marker is in place;
    `visible` also needs its group (if any) sealed."""

    id: str
    state: FolderState
    manifest: Manifest | None
    visible: bool = False

    @property
    def message(self) -> str:
        return self.manifest.message if self.manifest else ""

    @property
    def parent(self) -> str | None:
        return self.manifest.parent if self.manifest else None


@dataclass(frozen=True)
class Folder:
    id: str
    name: str
    parent: str | None
    state: FolderState
    created_at: float
    commit_id: str | None = None
    deleted: bool = False
    path: str | None = None  # the local directory to write into while STAGING

    def to_json(self) -> bytes:
        return encode_json(
            {
                "kind": "folder",
                "id": self.id,
                "name": self.name,
                "parent": self.parent,
                "state": self.state.value,
                "created_at": self.created_at,
                "commit_id": self.commit_id,
                "deleted": self.deleted,
                "path": self.path,
            }
        )

    @classmethod
    def from_json(cls, data: bytes) -> Folder:
        raw = decode_json(data)
        return cls(
            id=str(raw["id"]),
            name=str(raw["name"]),
            parent=raw.get("parent"),
            state=FolderState(raw["state"]),
            created_at=float(raw["created_at"]),
            commit_id=raw.get("commit_id"),
            deleted=bool(raw.get("deleted", False)),
            path=raw.get("path"),
        )


@dataclass(frozen=True)
class Group:
    id: str
    name: str
    created_at: float
    sealed: bool = False
    commits: tuple[str, ...] = ()


@dataclass(frozen=True)
class Ref:
    """A named pointer at a commit (or a sealed group). `generation` grows by one per
    move, so a ref never holds the same bytes twice and a CAS cannot suffer ABA."""

    name: str
    target: str
    generation: int
    updated_at: float
    etag: str = ""

    def to_json(self) -> bytes:
        return encode_json(
            {
                "name": self.name,
                "target": self.target,
                "generation": self.generation,
                "updated_at": self.updated_at,
                "nonce": secrets.token_hex(8),
            }
        )

    @classmethod
    def from_json(cls, data: bytes, etag: str) -> Ref:
        raw = decode_json(data)
        return cls(
            name=str(raw["name"]),
            target=str(raw["target"]),
            generation=int(raw["generation"]),
            updated_at=float(raw["updated_at"]),
            etag=etag,
        )


def group_seal_json(group_id: str, commits: Sequence[str]) -> bytes:
    return encode_json({"group_id": group_id, "commits": list(commits), "sealed_at": time.time()})
