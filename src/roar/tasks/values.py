"""Values crossing a task boundary: arguments in, results out, and their JSON record.

Results: every leaf of a returned dict/list/tuple (nested as deep as it goes) is stored by
content and comes back as an `Artifact` in the same place; `None` stays `None`; a `File`
is hashed and recorded as an output file; an `Artifact` (from a task called inside this
one) is recorded again as this job's output.

Arguments: small JSON values are recorded inline (the job's params); an `Artifact` is an
input edge to the job that made it and is loaded for the function; a `File` is hashed as
an input; anything else is stored by content like a result, so `roar.inp` can give every
argument back. An argument that no serializer can store is recorded by type and repr.

The record is JSON with tagged objects (`{"__roar__": "artifact", ...}`) for what JSON
cannot say: artifacts, files, tuples, values not recorded, and dicts that use the tag key.
"""

from __future__ import annotations

import functools
import json
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from roar.errors import SerializationFailed
from roar.hashing import Hasher
from roar.models import VALUE_PATH_PREFIX, FileRef
from roar.models import Artifact as StoredArtifact
from roar.objects import ObjectStore, StagedObject
from roar.store import Store
from roar.tasks.artifact import Artifact, File
from roar.tasks.serializers import Serializer, candidates, type_name

__all__ = [
    "VALUE_PREFIX",
    "PreparedArguments",
    "StoredResult",
    "Unrecorded",
    "decode",
    "map_leaves",
    "prepare_arguments",
    "result_leaves",
    "store_result",
]

VALUE_PREFIX = VALUE_PATH_PREFIX
TAG = "__roar__"
#: An argument bigger than this as JSON is stored as an object, not inline in the job.
INLINE_PARAM_BYTES = 16 << 10
_REPR_CHARS = 200
_SCALARS = (bool, int, float, str)


@dataclass(frozen=True)
class Unrecorded:
    """An argument roar could not store; its type and repr are what is known of it."""

    type: str
    repr: str


def _key(part: object) -> str:
    return str(part).replace("%", "%25").replace("/", "%2F")


def value_path(task: str, side: str, keys: tuple[object, ...]) -> str:
    """`task:NAME/out`, `task:NAME/out/0/model`, `task:NAME/in/frame`."""
    return "/".join([f"{VALUE_PREFIX}{task}", side, *(_key(k) for k in keys)])


def _is_container(value: object) -> bool:
    kind = type(value)
    return kind in (list, tuple) or (kind is dict and all(isinstance(k, str) for k in value))  # type: ignore[attr-defined]


def _items(value: Any) -> Iterator[tuple[object, Any]]:
    return iter(value.items()) if type(value) is dict else enumerate(value)


def _rebuild(container: Any, items: list[Any]) -> Any:
    if type(container) is dict:
        return dict(zip(container.keys(), items, strict=True))
    return tuple(items) if type(container) is tuple else items


def _encode_container(container: Any, items: list[Any]) -> Any:
    if type(container) is tuple:
        return {TAG: "tuple", "items": items}
    if type(container) is dict:
        if TAG in container:
            return {TAG: "dict", "items": [[k, v] for k, v in zip(container, items, strict=True)]}
        return dict(zip(container.keys(), items, strict=True))
    return items


def encode_artifact(artifact: Artifact, *, producer: bool = True) -> dict[str, Any]:
    """The record of an artifact; without `producer` (a value passed by value) it names
    no run, and `decode` fills in the run it belongs to."""
    record = {
        TAG: "artifact",
        "hash": artifact.hash,
        "size": artifact.size,
        "serializer": artifact.serializer,
        "ext": artifact.ext,
        "type": artifact.type,
        "path": artifact.path,
    }
    if producer:
        record.update(run_id=artifact.run_id, step=artifact.step)
    return record


def encode_file(file: File, root: Path) -> dict[str, Any]:
    return {TAG: "file", "path": relative(root, file.path), "hash": file.hash, "size": file.size}


def relative(root: Path, path: Path) -> str:
    """Paths inside the project are recorded relative to it, as `roar run` does."""
    text, prefix = os.fspath(path), os.fspath(root) + os.sep
    return text[len(prefix) :] if text.startswith(prefix) else text


def decode(node: Any, root: Path, run_id: int, step: str) -> Any:
    """The Python value of a record of job `run_id` (artifacts as `Artifact`s)."""

    def value(item: Any) -> Any:
        if isinstance(item, list):
            return [value(v) for v in item]
        if not isinstance(item, dict):
            return item
        tag = item.get(TAG)
        if tag is None:
            return {key: value(v) for key, v in item.items()}
        if tag == "artifact":
            fields = {"run_id": run_id, "step": step, **item}
            del fields[TAG]
            return Artifact(**fields, root=root)
        if tag == "file":
            path = Path(item["path"])
            return File(root / path, hash=item["hash"], size=item["size"])
        if tag == "tuple":
            return tuple(value(v) for v in item["items"])
        if tag == "dict":
            return {key: value(v) for key, v in item["items"]}
        return Unrecorded(item["type"], item["repr"])

    return value(node)


def _blob(artifact: Artifact) -> StoredArtifact:
    meta = {"serializer": artifact.serializer, "ext": artifact.ext, "type": artifact.type}
    return StoredArtifact(artifact.hash, artifact.size, "blob", meta=meta)


def _file_ref(file: File, root: Path) -> FileRef:
    assert file.hash is not None
    assert file.size is not None
    artifact = StoredArtifact(file.hash, file.size, "dir" if file.path.is_dir() else "file")
    return FileRef(relative(root, file.path), artifact)


def _hash_files(store: Store, files: list[File]) -> None:
    """Fill in each File's hash and size (one batch, through the hash cache)."""
    if not files:
        return
    digests = Hasher(store).hash_paths([os.fspath(f.path) for f in files])
    for file, digest in zip(files, digests, strict=True):
        file.hash, file.size = digest.hash, digest.size


def _save(serializer: Serializer, value: Any, handle: BinaryIO) -> None:
    serializer.save(value, handle)


class _Stager:
    """Serializes values into staged objects; publishes them all or none."""

    def __init__(self, objects: ObjectStore, root: Path, task: str, run_id: int) -> None:
        self.objects, self.root, self.task, self.run_id = objects, root, task, run_id
        self.staged: list[StagedObject] = []

    def store(self, value: Any, path: str, where: str) -> Artifact:
        tried = candidates(value)
        for index, serializer in enumerate(tried):
            try:
                staged = self.objects.stage(functools.partial(_save, serializer, value))
            except Exception as exc:
                if index + 1 < len(tried):
                    continue  # e.g. parquet refusing a frame: the next one may take it
                raise SerializationFailed(
                    f"{type(exc).__name__}: {exc}",
                    task=self.task,
                    where=where,
                    type=type_name(value),
                    serializer=serializer.name,
                ) from exc
            self.staged.append(staged)
            return Artifact(
                staged.digest,
                staged.size,
                serializer.name,
                serializer.ext,
                type_name(value),
                path,
                self.run_id,
                self.task,
                self.root,
            )
        raise AssertionError("every value has at least one serializer")  # pragma: no cover

    def publish(self) -> None:
        for staged in self.staged:
            staged.publish()

    def discard(self) -> None:
        for staged in self.staged:
            staged.discard()


# -- results ---------------------------------------------------------------------------------


@dataclass
class StoredResult:
    value: Any  # what the caller gets: the same shape, with Artifacts and Files
    record: Any  # JSON for the job's env
    outputs: list[FileRef] = field(default_factory=list)


def store_result(
    value: Any, *, task: str, run_id: int, root: Path, objects: ObjectStore, store: Store
) -> StoredResult:
    """Store every leaf of `value`; all of it is in `.roar/objects`, or none of it."""
    stager = _Stager(objects, root, task, run_id)
    outputs: list[FileRef] = []
    files: list[File] = []

    def walk(node: Any, keys: tuple[object, ...]) -> tuple[Any, Any]:
        if _is_container(node):
            pairs = [walk(item, (*keys, key)) for key, item in _items(node)]
            return (
                _rebuild(node, [p[0] for p in pairs]),
                _encode_container(node, [p[1] for p in pairs]),
            )
        if node is None:
            return None, None
        path = value_path(task, "out", keys)
        if isinstance(node, File):
            files.append(node)
            return node, node
        if isinstance(node, Artifact):
            outputs.append(FileRef(path, _blob(node)))
            return node, encode_artifact(node)
        where = "its result" if not keys else f"result {'/'.join(map(_key, keys))}"
        artifact = stager.store(node, path, where)
        outputs.append(FileRef(path, _blob(artifact)))
        return artifact, encode_artifact(artifact)

    try:
        returned, record = walk(value, ())
        _hash_files(store, files)
        stager.publish()
    except BaseException:
        stager.discard()
        raise
    outputs += [_file_ref(f, root) for f in files]
    return StoredResult(returned, _files_encoded(record, root), outputs)


def _files_encoded(record: Any, root: Path) -> Any:
    """Files were hashed after the walk: encode them now that their hashes are known."""
    if isinstance(record, File):
        return encode_file(record, root)
    if isinstance(record, list):
        return [_files_encoded(item, root) for item in record]
    if isinstance(record, dict):
        return {key: _files_encoded(item, root) for key, item in record.items()}
    return record


# -- arguments -------------------------------------------------------------------------------


@dataclass
class PreparedArguments:
    record: dict[str, Any]  # every argument, for roar.inp
    params: dict[str, Any]  # the small JSON ones, for people (show, history)
    inputs: list[FileRef]
    consumed: list[Artifact]  # artifacts passed in, for the staleness check
    notes: list[str]
    _arguments: dict[str, Any]

    def materialize(self) -> dict[str, Any]:
        """The arguments the function gets: artifacts loaded, everything else as passed."""
        return {name: _load_leaves(value) for name, value in self._arguments.items()}


class _NotPlain:
    pass


_NOT_PLAIN = _NotPlain()


def _plain_record(value: Any) -> Any:
    """`value` in the JSON record when it holds only JSON's own types (and tuples), else
    _NOT_PLAIN. Exact types: a subclass (numpy's float64) would come back as its base."""
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return value
    if kind is float:
        return value if math.isfinite(value) else _NOT_PLAIN
    if kind in (list, tuple) or (kind is dict and TAG not in value):
        pairs = list(_items(value)) if _is_container(value) else [(None, _NOT_PLAIN)]
        items = [_plain_record(item) for _, item in pairs]
        if any(item is _NOT_PLAIN for item in items):
            return _NOT_PLAIN
        return _encode_container(value, items)
    return _NOT_PLAIN


def _inline(value: Any) -> Any:
    """The record of `value` when it is plain and small enough to keep in the job."""
    plain = _plain_record(value)
    if plain is _NOT_PLAIN or len(json.dumps(plain)) > INLINE_PARAM_BYTES:
        return _NOT_PLAIN
    return plain


def _contains_pointer(value: Any) -> bool:
    if isinstance(value, (Artifact, File)):
        return True
    return _is_container(value) and any(_contains_pointer(v) for _, v in _items(value))


def _load_leaves(value: Any) -> Any:
    if isinstance(value, Artifact):
        return value.load()
    if _is_container(value) and _contains_pointer(value):
        return _rebuild(value, [_load_leaves(item) for _, item in _items(value)])
    return value


def map_leaves(value: Any, change: Callable[[Any], Any]) -> Any:
    """`value` with `change` applied to every leaf, in containers of the same shape."""
    if _is_container(value):
        return _rebuild(value, [map_leaves(item, change) for _, item in _items(value)])
    return change(value)


def result_leaves(value: Any, task: str) -> Iterator[tuple[str, Any]]:
    """(value path, leaf) for every leaf of a result that `store_result` stores or records
    under a value path: not None, not a File (recorded at its own path)."""

    def walk(node: Any, keys: tuple[object, ...]) -> Iterator[tuple[str, Any]]:
        if _is_container(node):
            for key, item in _items(node):
                yield from walk(item, (*keys, key))
        elif node is not None and not isinstance(node, File):
            yield value_path(task, "out", keys), node

    return walk(value, ())


def _listed(value: Any) -> Any:
    """Tuples as lists, as JSON has them (params are for reading; the record is exact)."""
    if type(value) in (list, tuple):
        return [_listed(v) for v in value]
    if type(value) is dict:
        return {k: _listed(v) for k, v in value.items()}
    return value


def prepare_arguments(
    arguments: dict[str, Any], *, task: str, root: Path, objects: ObjectStore, store: Store
) -> PreparedArguments:
    """Record the arguments before the job runs: files hashed, other values stored.

    A value passed by value was made by no job: its record names no run, and `decode`
    gives it the run it was passed to.
    """
    stager = _Stager(objects, root, task, 0)
    inputs: list[FileRef] = []
    files: list[File] = []
    consumed: list[Artifact] = []
    notes: list[str] = []

    def by_value(node: Any, keys: tuple[object, ...]) -> Any:
        where = "argument " + "/".join(map(_key, keys))
        path = value_path(task, "in", keys)
        try:
            artifact = stager.store(node, path, where)
        except SerializationFailed as exc:
            notes.append(f"{where} not recorded: {exc.__cause__}")
            return {TAG: "unrecorded", "type": type_name(node), "repr": repr(node)[:_REPR_CHARS]}
        inputs.append(FileRef(path, _blob(artifact)))
        return encode_artifact(artifact, producer=False)

    def walk(node: Any, keys: tuple[object, ...]) -> Any:
        if isinstance(node, Artifact):
            consumed.append(node)
            inputs.append(FileRef(node.path, _blob(node)))
            return encode_artifact(node)
        if isinstance(node, File):
            files.append(node)
            return node
        if _contains_pointer(node):
            items = [walk(item, (*keys, key)) for key, item in _items(node)]
            return _encode_container(node, items)
        plain = _inline(node)
        return plain if plain is not _NOT_PLAIN else by_value(node, keys)

    record: dict[str, Any] = {}
    params: dict[str, Any] = {}
    try:
        for name, value in arguments.items():
            plain = _inline(value)
            if plain is _NOT_PLAIN:
                record[name] = walk(value, (name,))
            else:
                record[name], params[name] = plain, _listed(value)
        _hash_files(store, files)
        stager.publish()
    except BaseException:
        stager.discard()
        raise
    inputs += [_file_ref(f, root) for f in files]
    return PreparedArguments(
        _files_encoded(record, root), params, inputs, consumed, notes, dict(arguments)
    )
