"""Paths survive the trip into text columns byte for byte."""

from __future__ import annotations

import os

from hypothesis import given
from hypothesis import strategies as st

from roar.pathtext import for_display, from_text, to_text


@given(st.binary(min_size=1, max_size=40).filter(lambda b: b"\0" not in b))
def test_round_trip_any_bytes(raw: bytes) -> None:
    path = os.fsdecode(raw)
    text = to_text(path)
    text.encode("utf-8")  # storable as strict UTF-8 text
    assert from_text(text) == path


def test_ordinary_paths_are_unchanged() -> None:
    for path in ("data/train.csv", "/abs/caf\u00e9 with space", "new\nline"):
        assert to_text(path) == path


def test_percent_and_bad_bytes_are_escaped() -> None:
    assert to_text("50%.csv") == "50%25.csv"
    assert to_text(os.fsdecode(b"caf\xe9")) == "caf%E9"
    assert for_display(os.fsdecode(b"caf\xe9")) == "caf\\xe9"
