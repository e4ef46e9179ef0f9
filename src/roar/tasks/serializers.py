"""How a value becomes bytes in `.roar/objects` and back: one serializer per kind of value.

Chosen by type, most specific first: serializers registered with `register_serializer`,
then pandas DataFrames (parquet when pyarrow is installed), numpy arrays (`.npy`), torch
tensors and modules (`torch.save`), matplotlib figures (PNG), plain JSON scalars, and
pickle for everything else. A library is imported only to load a value it wrote; to
recognise a value, its module must already be in `sys.modules` (an object of a library
that was never imported cannot exist), so choosing costs no import.

The serializer's name is recorded with the artifact, so a later process loads the bytes
the same way.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import pickle
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

from roar.errors import DeserializationFailed

__all__ = [
    "Image",
    "Serializer",
    "candidates",
    "register_serializer",
    "serializer_named",
    "type_name",
]

Save = Callable[[Any, BinaryIO], None]
Load = Callable[[BinaryIO], Any]

_CUSTOM_PREFIX = "custom:"


@dataclass(frozen=True)
class Serializer:
    name: str
    ext: str
    save: Save
    load: Load


@dataclass(frozen=True)
class Image:
    """A PNG as stored from a matplotlib figure; shows itself inline in Jupyter."""

    data: bytes

    def _repr_png_(self) -> bytes:
        return self.data

    def to_array(self) -> Any:
        """The pixels as a numpy array (height, width, RGBA), through matplotlib."""
        import io

        from matplotlib import image

        return image.imread(io.BytesIO(self.data), format="png")


def type_name(value: object) -> str:
    kind = type(value)
    return f"{kind.__module__}.{kind.__qualname__}"


# -- the built-in serializers; each imports its library only when it runs ------------------


def _json_save(value: Any, handle: BinaryIO) -> None:
    handle.write(json.dumps(value).encode("utf-8"))


def _json_load(handle: BinaryIO) -> Any:
    return json.loads(handle.read().decode("utf-8"))


def _pickle_save(value: Any, handle: BinaryIO) -> None:
    pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)


def _pickle_load(handle: BinaryIO) -> Any:
    return pickle.load(handle)  # the project's own store: bytes that roar wrote


def _numpy_save(value: Any, handle: BinaryIO) -> None:
    import numpy

    numpy.save(handle, value, allow_pickle=False)


def _numpy_load(handle: BinaryIO) -> Any:
    import numpy

    return numpy.load(handle, allow_pickle=False)


def _parquet_save(value: Any, handle: BinaryIO) -> None:
    value.to_parquet(handle)


def _parquet_load(handle: BinaryIO) -> Any:
    import pandas

    return pandas.read_parquet(handle)


def _torch_save(value: Any, handle: BinaryIO) -> None:
    import torch

    torch.save(value, handle)


def _torch_load(handle: BinaryIO) -> Any:
    import torch

    # Modules are pickled by torch.save; the bytes are the project's own, as with pickle.
    return torch.load(handle, weights_only=False)


def _png_save(value: Any, handle: BinaryIO) -> None:
    value.savefig(handle, format="png")


def _png_load(handle: BinaryIO) -> Any:
    return Image(handle.read())


JSON = Serializer("json", ".json", _json_save, _json_load)
PICKLE = Serializer("pickle", ".pkl", _pickle_save, _pickle_load)
NUMPY = Serializer("numpy", ".npy", _numpy_save, _numpy_load)
PARQUET = Serializer("pandas-parquet", ".parquet", _parquet_save, _parquet_load)
TORCH = Serializer("torch", ".pt", _torch_save, _torch_load)
PNG = Serializer("matplotlib-png", ".png", _png_save, _png_load)

_BUILTIN = {s.name: s for s in (JSON, PICKLE, NUMPY, PARQUET, TORCH, PNG)}
_JSON_SCALARS = (bool, int, float, str)

_lock = threading.Lock()
_registered: dict[type, Serializer] = {}
_registered_names: dict[str, Serializer] = {}


def register_serializer(kind: type, save: Save, load: Load, ext: str) -> None:
    """Store values of `kind` (and its subclasses) with `save(value, binary_file)`, and
    read them back with `load(binary_file)`; files end in `ext`.

    Loading in another process needs the same registration there first; roar imports the
    module that defines `kind` before giving up, so registering next to the class works.
    """
    name = f"{_CUSTOM_PREFIX}{kind.__module__}.{kind.__qualname__}"
    serializer = Serializer(name, ext if ext.startswith(".") else f".{ext}", save, load)
    with _lock:
        _registered[kind] = serializer
        _registered_names[name] = serializer


def _registered_for(value: object) -> Serializer | None:
    if not _registered:
        return None
    for kind in type(value).__mro__:
        found = _registered.get(kind)
        if found is not None:
            return found
    return None


def _library_type(module: str, attribute: str) -> type | None:
    """`module.attribute` when `module` is already imported; never imports it."""
    loaded = sys.modules.get(module)
    found = getattr(loaded, attribute, None) if loaded is not None else None
    return found if isinstance(found, type) else None


def _builtin_for(value: object) -> list[Serializer]:
    """The built-in serializers for `value`, best first, with pickle as the last resort
    where the best one may refuse a value (a parquet frame with non-string columns)."""
    kind = type(value)
    if kind in _JSON_SCALARS:
        return [JSON]
    ndarray = _library_type("numpy", "ndarray")
    if ndarray is not None and kind is ndarray and not value.dtype.hasobject:  # type: ignore[attr-defined]
        return [NUMPY]
    frame = _library_type("pandas", "DataFrame")
    if frame is not None and isinstance(value, frame):
        return [PARQUET, PICKLE] if importlib.util.find_spec("pyarrow") is not None else [PICKLE]
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, (torch.Tensor, torch.nn.Module)):
        return [TORCH]
    figure = _library_type("matplotlib.figure", "Figure")
    if figure is not None and isinstance(value, figure):
        return [PNG]
    return [PICKLE]


def candidates(value: object) -> list[Serializer]:
    """The serializers to try for `value`, best first (a registered one alone)."""
    registered = _registered_for(value)
    return [registered] if registered is not None else _builtin_for(value)


def serializer_named(name: str, stored_type: str, digest: str) -> Serializer:
    """The serializer that wrote an artifact, by its recorded name."""
    found = _BUILTIN.get(name) or _registered_names.get(name)
    if found is None and name.startswith(_CUSTOM_PREFIX):
        # The class's module may register its serializer when imported: try that once.
        module = stored_type.rsplit(".", 1)[0]
        with contextlib.suppress(ImportError):
            importlib.import_module(module)
        found = _registered_names.get(name)
    if found is None:
        raise DeserializationFailed(
            f"no serializer named {name!r} in this process; call "
            f"`roar.register_serializer({stored_type.rsplit('.', 1)[-1]}, save, load, ext)` "
            "before loading",
            hash=digest,
            serializer=name,
        )
    return found
