"""Lineage walks (recursive CTEs) on every backend: diamond, re-run, depth, corrupt cycles."""

from __future__ import annotations

import pytest

from roar.models import Artifact, FileRef, JobSpec
from roar.store import Store


def h(name: str) -> str:
    return name.encode().hex().ljust(64, "0")[:64]


def ref(path: str, content: str | None = None) -> FileRef:
    return FileRef(path, Artifact(h(content or path), 1))


def job(store: Store, step: str, ins: list[FileRef], outs: list[FileRef]) -> int:
    return store.record_job(JobSpec(step=step), ins, outs).id


@pytest.fixture
def diamond(store: Store) -> dict[str, int]:
    """raw -> prep -> clean -> {fa -> a, fb -> b} -> train -> model; fa re-run later."""
    ids = {
        "prep": job(store, "prep", [ref("raw")], [ref("clean")]),
        "fa": job(store, "fa", [ref("clean")], [ref("a")]),
        "fb": job(store, "fb", [ref("clean")], [ref("b")]),
        "train": job(store, "train", [ref("a"), ref("b")], [ref("model")]),
    }
    ids["fa2"] = job(store, "fa", [ref("clean")], [ref("a", "a-v2")])
    return ids


def test_upstream_of_the_model(store: Store, diamond: dict[str, int]) -> None:
    found = store.walk([(h("model"), "model")], "up", None)
    assert found == sorted(diamond[k] for k in ("prep", "fa", "fb", "train"))


def test_depth_limits_the_walk(store: Store, diamond: dict[str, int]) -> None:
    assert store.walk([(h("model"), None)], "up", 1) == [diamond["train"]]
    assert store.walk([(h("model"), None)], "up", 2) == sorted(
        diamond[k] for k in ("fa", "fb", "train")
    )
    assert store.walk([(h("model"), None)], "up", 0) == []


def test_downstream_of_the_raw_data(store: Store, diamond: dict[str, int]) -> None:
    assert store.walk([(h("raw"), None)], "down", None) == sorted(diamond.values())
    assert store.walk([(h("a"), None)], "down", None) == [diamond["train"]]


def test_upstream_respects_job_order(store: Store, diamond: dict[str, int]) -> None:
    """train read `a` before the re-run existed: its lineage is fa, not fa2."""
    found = store.walk([(h("a"), "a"), (h("b"), "b")], "up", None, bound=diamond["train"])
    assert diamond["fa2"] not in found
    assert diamond["fa"] in found


def test_corrupt_cycles_cannot_loop(store: Store) -> None:
    first = job(store, "x", [ref("p", "X")], [ref("q", "Y")])
    second = job(store, "y", [ref("q", "Y")], [ref("p", "X")])
    assert store.walk([(h("X"), "p")], "up", None) == [first, second]
    assert store.walk([(h("X"), "p")], "down", None) == [first, second]


def test_identical_content_prefers_the_same_path(store: Store) -> None:
    left = job(store, "left", [], [ref("left/empty", "EMPTY")])
    right = job(store, "right", [], [ref("right/empty", "EMPTY")])
    reader = job(store, "reader", [ref("left/empty", "EMPTY")], [ref("out")])
    found = store.walk([(h("EMPTY"), "left/empty")], "up", None, bound=reader)
    assert found == [left]
    assert right not in found


def test_downstream_respects_job_order(store: Store) -> None:
    """Jobs that read the same content before it was written are not downstream of it."""
    early = job(store, "early", [ref("copy", "data")], [ref("early-out")])
    made = job(store, "make", [ref("src")], [ref("data")])
    late = job(store, "late", [ref("data")], [ref("late-out")])
    assert store.walk([(h("data"), "data")], "down", None, bound=made) == [late]
    # one step further down, the bound moves with the walk: `early-out` never counts
    assert store.walk([(h("src"), "src")], "down", None, bound=made - 1) == [made, late]
    assert early not in store.walk([(h("src"), "src")], "down", None)
