"""`artifacts.yaml`: what each artifact is (type, path, description, labels), as GTO reads it.

    churn:
      type: model
      path: models/churn.pkl
      virtual: false        # --must-exist: the path must be committed when registering
      description: churn classifier
      labels: [tabular, prod-candidate]

Reading is tolerant like GTO (unknown keys are kept in `custom`); writing replaces the
file atomically and keeps every other artifact's entry, and every comment outside the
entry written, as it was.
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
    """Add or replace one entry of `root/artifacts.yaml`. The rest of the file stays as the
    user wrote it, comments and layout included: only the entry's own lines are rewritten
    (or new lines appended), as GTO does."""
    from roar.fsutil import atomic_write_bytes

    path = root / INDEX
    try:
        existing = path.read_bytes()
    except FileNotFoundError:
        existing = b""
    document = load_yaml(existing, INDEX) if existing.strip() else {}
    if document is None:  # comments only
        document = {}
    if not isinstance(document, dict):
        raise RegistryError(f"{INDEX} must map artifact names to their descriptions")
    document[annotation.name] = annotation.to_yaml()
    atomic_write_bytes(path, _with_entry(existing, annotation, document).encode("utf-8"))
    return path


def _with_entry(existing: bytes, annotation: Annotation, expected: dict[str, Any]) -> str:
    """`existing` with the entry for `annotation` replaced in place or appended; a file
    whose layout this cannot splice into (flow style, say) is written out afresh."""
    import yaml

    entry = yaml.safe_dump(
        {annotation.name: annotation.to_yaml()}, sort_keys=False, default_flow_style=False
    )
    try:
        text = existing.decode("utf-8")
        spliced = _splice(text, annotation.name, entry)
        if spliced is not None and load_yaml(spliced.encode("utf-8"), INDEX) == expected:
            return spliced
    except (UnicodeDecodeError, yaml.YAMLError, RegistryError):
        pass
    return yaml.safe_dump(expected, sort_keys=False, default_flow_style=False)


def _content_end(key: Any, value: Any, text: str) -> int:
    """Where the text of `value` (the value of `key`) ends: its last scalar or flow
    collection, not the block's end mark."""
    import yaml

    node = value
    while isinstance(node, yaml.CollectionNode) and not node.flow_style and node.value:
        last = node.value[-1]
        node = last[1] if isinstance(node, yaml.MappingNode) else last
    if isinstance(node, yaml.CollectionNode) and not node.flow_style:
        return int(key.end_mark.index)  # an empty block collection: only the key is written
    end = int(node.end_mark.index)
    if isinstance(node, yaml.ScalarNode) and node.style in ("|", ">"):
        # a block scalar's mark lies past the blank lines after it
        while end > node.start_mark.index and text[end - 1] in " \t\r\n":
            end -= 1
    return end


def _splice(text: str, name: str, entry: str) -> str | None:
    """`text` with the top-level entry `name` (from its key to the end of its value) made
    `entry`, or `entry` appended when there is none; None for a layout it cannot place."""
    import yaml

    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is None:  # empty, or comments only
        return text + ("" if not text or text.endswith("\n") else "\n") + entry
    if not isinstance(root, yaml.MappingNode) or root.flow_style:
        return None
    for key, value in root.value:
        if isinstance(key, yaml.ScalarNode) and key.value == name:
            if key.start_mark.column != 0:
                return None
            start = key.start_mark.index
            # to the end of the line holding the value's last character: a block value's
            # own end mark lies at the next key, past blank lines and comments
            newline = text.find("\n", _content_end(key, value, text))
            rest = "\n" if newline < 0 else text[newline:]
            return text[:start] + entry.rstrip("\n") + rest
    return text + ("" if text.endswith("\n") else "\n") + entry
