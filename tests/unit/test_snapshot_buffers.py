"""Async checkpoint snapshots copy into the buffers the previous snapshot gave back."""

from __future__ import annotations

import pytest

from roar.checkpoints.snapshot import SnapshotBuffers, holds_tensors

torch = pytest.importorskip("torch")


def test_a_snapshot_is_a_copy_and_reuses_given_back_buffers() -> None:
    buffers = SnapshotBuffers()
    state = {"layers": [torch.ones(8), torch.zeros(2, 3)], "step": 1, "name": "m"}
    first, used = buffers.take(state)
    state["layers"][0] += 1
    assert torch.equal(first["layers"][0], torch.ones(8))  # the copy did not move
    assert first["step"] == 1
    assert first["name"] == "m"
    pointers = {key: tensor.data_ptr() for key, tensor in used.items()}
    buffers.give_back(used)

    second, used_again = buffers.take(state)
    assert {key: t.data_ptr() for key, t in used_again.items()} == pointers
    assert torch.equal(second["layers"][0], torch.full((8,), 2.0))


def test_buffers_in_use_are_never_shared_and_shapes_must_match() -> None:
    buffers = SnapshotBuffers()
    first, used = buffers.take({"w": torch.ones(4)})
    second, _ = buffers.take({"w": torch.ones(4)})  # the first was not given back
    assert first["w"].data_ptr() != second["w"].data_ptr()
    buffers.give_back(used)
    third, _ = buffers.take({"w": torch.ones(5)})  # another shape: a new buffer
    assert third["w"].data_ptr() != first["w"].data_ptr()
    assert torch.equal(third["w"], torch.ones(5))


def test_holds_tensors() -> None:
    assert holds_tensors({"a": [1, (torch.ones(1),)]})
    assert not holds_tensors({"a": [1, 2.0, "x"]})


def test_a_tensor_in_two_places_stays_one_tensor() -> None:
    shared = torch.ones(3)
    snapshot, _ = SnapshotBuffers().take({"encoder": shared, "decoder": shared})
    assert snapshot["encoder"] is snapshot["decoder"]
    assert snapshot["encoder"] is not shared
