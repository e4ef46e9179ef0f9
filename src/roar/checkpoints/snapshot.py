"""The copy an async save takes of a state dict, so training can go on changing its own.

Copying a 1 GiB state dict into freshly allocated memory costs more in page faults than
in the copy itself; `SnapshotBuffers` keeps the CPU tensors of the previous snapshot once
its commit has serialized them, and the next snapshot copies into them when the shapes
match. The price is holding one extra copy of the state between saves, as every async
checkpointer must; `CheckpointStore.close` lets it go.
"""

from __future__ import annotations

import copy
import sys
import threading
from collections.abc import Mapping
from typing import Any

__all__ = ["SnapshotBuffers", "holds_tensors"]

Key = tuple[object, ...]


def holds_tensors(value: Any) -> bool:
    torch = sys.modules.get("torch")
    if torch is None:
        return False
    if isinstance(value, torch.Tensor):
        return True
    if isinstance(value, Mapping):
        return any(holds_tensors(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(holds_tensors(v) for v in value)
    return False


class SnapshotBuffers:
    """Snapshots whose tensors are copied into buffers a finished snapshot gave back."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._free: dict[Key, Any] = {}

    def take(self, value: Any) -> tuple[Any, dict[Key, Any]]:
        """A copy of `value` the caller can no longer change, and the buffers it uses
        (to `give_back` once the copy is no longer read)."""
        with self._lock:
            free, self._free = self._free, {}
        used: dict[Key, Any] = {}
        snapshot = self._copy(value, (), free, used, {})
        return snapshot, used

    def give_back(self, used: dict[Key, Any]) -> None:
        with self._lock:
            self._free = used

    def clear(self) -> None:
        with self._lock:
            self._free = {}

    def _copy(
        self,
        value: Any,
        key: Key,
        free: dict[Key, Any],
        used: dict[Key, Any],
        seen: dict[int, Any],
    ) -> Any:
        torch = sys.modules.get("torch")
        if torch is not None and isinstance(value, torch.Tensor):
            if id(value) in seen:  # one tensor in two places (tied weights) stays one
                return seen[id(value)]
            source = value.detach()
            buffer = free.get(key)
            if (
                buffer is not None
                and buffer.shape == source.shape
                and buffer.dtype == source.dtype
                and buffer.stride() == source.stride()
            ):
                buffer.copy_(source)
            else:  # tensors elsewhere (a GPU) come to CPU memory
                buffer = source.to("cpu", copy=True)
            used[key] = seen[id(value)] = buffer
            return buffer
        if isinstance(value, dict):
            return type(value)(
                (k, self._copy(v, (*key, k), free, used, seen)) for k, v in value.items()
            )
        if isinstance(value, list | tuple) and type(value) in (list, tuple):
            return type(value)(
                self._copy(v, (*key, i), free, used, seen) for i, v in enumerate(value)
            )
        return copy.deepcopy(value)
