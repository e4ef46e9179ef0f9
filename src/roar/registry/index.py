"""`artifacts.yaml`: what each artifact is (type, path, description, labels), as GTO reads it.

    churn:
      type: model
      path: models/churn.pkl
      virtual: false        # --must-exist: the path must be committed when registering
      description: churn classifier
      labels: [tabular, prod-candidate]

Reading is tolerant like GTO (unknown keys are kept in `custom`); writing replaces the
file atomically and keeps every other artifact's entry as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roar.errors import RegistryError
from roar.registry.git import RegistryGit
from roar.registry.rules import load_yaml, read_repo_file

__all__ = ["INDEX", "Annotation", "read_index", "write_annotation"]

INDEX = "artifacts.yaml"
_KNOWN = ("type", "path", "virtual", "description", "labels", "custom")


@dataclass(frozen=True)
class Annotation:
    name: str
    type: str | None = None
    path: str | None = None
    virtual: bool = True
    description: str | None = None
    labels: tuple[str, ...] = ()
    custom: Any = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def must_exist(self) -> bool:
        return not self.virtual

    def to_yaml(self) -> dict[str, Any]:
        body: dict[str, Any] = {}
        for key in ("type", "path", "description"):
            if getattr(self, key) is not None:
                body[key] = getattr(self, key)
        if not self.virtual:
            body["virtual"] = False
        if self.labels:
            body["labels"] = list(self.labels)
        if self.custom is not None:
            body["custom"] = self.custom
        body.update(self.extra)
        return body


def _annotation(name: str, body: object) -> Annotation:
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise RegistryError(f"{INDEX}: the entry for {name!r} must be a mapping")
    labels = body.get("labels") or ()
    text = {k: (str(body[k]) if body.get(k) is not None else None) for k in _KNOWN[:2]}
    return Annotation(
        name=name,
        type=text["type"],
        path=text["path"],
        virtual=body.get("virtual", True) is not False,
        description=body.get("description"),
        labels=tuple(str(label) for label in labels),
        custom=body.get("custom"),
        extra={k: v for k, v in body.items() if k not in _KNOWN},
    )


def _parse(text: bytes | None) -> dict[str, Annotation]:
    if text is None or not text.strip():
        return {}
    document = load_yaml(text, INDEX)
    if not isinstance(document, dict):
        raise RegistryError(f"{INDEX} must map artifact names to their descriptions")
    return {str(name): _annotation(str(name), body) for name, body in document.items()}


def read_index(git: RegistryGit, commit: str | None = None) -> dict[str, Annotation]:
    """Annotations in the work tree (or as committed at `commit`)."""
    return _parse(read_repo_file(git, INDEX, commit))


def write_annotation(root: Path, annotation: Annotation) -> Path:
    """Add or replace one entry of `root/artifacts.yaml`; other entries are kept."""
    import yaml

    from roar.fsutil import atomic_write_bytes

    path = root / INDEX
    try:
        existing = path.read_bytes()
    except FileNotFoundError:
        existing = b""
    document = load_yaml(existing, INDEX) if existing.strip() else {}
    if not isinstance(document, dict):
        raise RegistryError(f"{INDEX} must map artifact names to their descriptions")
    document[annotation.name] = annotation.to_yaml()
    text = yaml.safe_dump(document, sort_keys=False, default_flow_style=False)
    atomic_write_bytes(path, text.encode("utf-8"))
    return path
