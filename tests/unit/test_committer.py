"""The background committer: a failure is raised once by the next submit, and waiting on
the failed key raises it again instead of waiting forever."""

from __future__ import annotations

import time

import pytest

from roar.checkpoints.committer import Committer
from roar.errors import BackendError


def _fail() -> None:
    raise BackendError("InternalError", "the store fell over")


def test_waiting_on_a_failed_commit_raises_even_after_it_was_reported() -> None:
    committer = Committer()
    committer.submit("c_1", _fail)
    with pytest.raises(BackendError):
        committer.drain()  # reported here
    committer.submit("c_2", lambda: "ok")  # prunes finished work
    assert committer.wait("c_2", timeout=5) == "ok"
    assert committer.pending("c_1")
    with pytest.raises(BackendError, match="fell over"):
        committer.wait("c_1", timeout=5)
    committer.close()


def test_a_failure_surfaces_at_the_next_submit_once() -> None:
    committer = Committer()
    committer.submit("c_1", _fail)
    _wait_until_done(committer, "c_1")
    with pytest.raises(BackendError, match="fell over"):
        committer.submit("c_2", lambda: None)
    committer.submit("c_3", lambda: None)  # reported once: no longer in the way
    committer.close()


def _wait_until_done(committer: Committer, key: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with committer._lock:
            if committer._futures[key].done():
                return
        time.sleep(0.01)
    pytest.fail(f"{key} did not finish")
