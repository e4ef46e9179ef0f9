"""`roar run` hashes a big input while the command runs, and only trusts that digest when
the file is still the same at the end. Both tracers that stream (seccomp and strace) tell
roar of the files as the command opens them."""

from __future__ import annotations

import os
import time

import pytest

import roar.hashing.hasher as hasher_module
from roar.hashing import hash_file
from roar.models import HashCacheEntry
from roar.run.early import EarlyHasher
from tests.trace.conftest import Workspace

MIB = 1 << 20
# The command reads big.bin, then waits (6,000 naps: at least 60 s) for the marker the test
# leaves once roar has dealt with big.bin early; then it may change the file. Early hashing
# runs at the lowest CPU priority, and on a CI machine busy with other tests (a Ray cluster
# starting) it once took longer than 20 s; the wait ends at once when the marker is there.
WAIT = "i=0; while [ ! -e marker ] && [ $i -lt 6000 ]; do sleep 0.01; i=$((i+1)); done"


#: The tests that depend on the tracer's stream run on both tracers that have one.
BOTH_TRACERS = pytest.mark.parametrize("early_ws", ["seccomp", "strace"], indirect=True)


@pytest.fixture
def early_ws(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Workspace:
    ws.tracer = getattr(request, "param", "seccomp")
    ws.write("big.bin", os.urandom(6 * MIB))
    time.sleep(2.1)  # older than the racy window, as a dataset on disk is
    consider = EarlyHasher._consider_input

    def consider_then_mark(self: EarlyHasher, path: str, known: HashCacheEntry | None) -> None:
        consider(self, path, known)
        if path.endswith("/big.bin"):
            (ws.root / "marker").touch()

    monkeypatch.setattr(EarlyHasher, "_consider_input", consider_then_mark)
    hash_it = EarlyHasher._hash

    def hash_then_mark(self: EarlyHasher, path: str, before: os.stat_result) -> bool:
        kept = hash_it(self, path, before)
        if kept and path.endswith("/model.bin"):
            (ws.root / "marker").touch()
        return kept

    monkeypatch.setattr(EarlyHasher, "_hash", hash_then_mark)
    return ws


def end_hashed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Paths the end of the run hashed itself (not from a cache or an early digest)."""
    seen: list[str] = []
    hash_one = hasher_module._hash_one

    def spy(item, advance):  # type: ignore[no-untyped-def]
        seen.append(item.path)
        return hash_one(item, advance)

    monkeypatch.setattr(hasher_module, "_hash_one", spy)
    return seen


@BOTH_TRACERS
def test_a_big_input_read_early_is_not_hashed_again(
    early_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed_at_end = end_hashed(monkeypatch)
    traced = early_ws.trace(["sh", "-c", f"cat big.bin > /dev/null; {WAIT}"])
    assert traced.outcome.exit_code == 0
    assert traced.hash_of("big.bin") == hash_file(early_ws.root / "big.bin")
    assert str(early_ws.root / "big.bin") not in hashed_at_end
    with early_ws.project.open_store(early_ws.project.config()) as store:
        cached = store.lookup_hashes([str(early_ws.root / "big.bin")])
    assert cached[str(early_ws.root / "big.bin")].hash == traced.hash_of("big.bin")


@BOTH_TRACERS
def test_a_big_input_changed_after_it_was_read_is_hashed_again(
    early_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed_at_end = end_hashed(monkeypatch)
    traced = early_ws.trace(["sh", "-c", f"cat big.bin > /dev/null; {WAIT}; echo more >> big.bin"])
    assert traced.outcome.exit_code == 0
    assert "big.bin" in traced.outputs
    assert traced.hash_of("big.bin") == hash_file(early_ws.root / "big.bin")
    assert str(early_ws.root / "big.bin") in hashed_at_end


@BOTH_TRACERS
def test_a_big_output_left_alone_is_hashed_before_the_end(
    early_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkpoint written early in a run (here: then 2 s of rest, the racy window) is
    hashed while the run goes on; the end only checks its stat."""
    hashed_at_end = end_hashed(monkeypatch)
    traced = early_ws.trace(["sh", "-c", f"head -c 6000000 /dev/urandom > model.bin; {WAIT}"])
    assert traced.outcome.exit_code == 0
    assert traced.hash_of("model.bin") == hash_file(early_ws.root / "model.bin")
    assert str(early_ws.root / "model.bin") not in hashed_at_end


def test_switched_off_the_end_hashes_everything(
    early_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed_at_end = end_hashed(monkeypatch)
    (early_ws.root / "marker").touch()  # nothing will be considered early: no wait
    monkeypatch.setenv("ROAR_HASH_EARLY", "false")
    traced = early_ws.trace(["sh", "-c", "cat big.bin > /dev/null"])
    assert traced.hash_of("big.bin") == hash_file(early_ws.root / "big.bin")
    assert str(early_ws.root / "big.bin") in hashed_at_end


@pytest.mark.parametrize("tracer", ["seccomp", "strace"])
def test_files_of_a_directory_moved_aside_are_not_read_again(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, tracer: str
) -> None:
    """An earlier job read them, so the hash cache knows them; a move keeps their stat."""
    ws.tracer = tracer  # type: ignore[assignment]
    for name in ("a", "b"):
        ws.write(f"raw/{name}.bin", name * 1000)
        past = time.time() - 60
        os.utime(ws.root / f"raw/{name}.bin", (past, past))
    time.sleep(2.1)  # out of the hash cache's racy window (2 s after the last change)
    first = ws.trace(["sh", "-c", "cat raw/a.bin raw/b.bin > /dev/null"])
    assert first.inputs == {"raw/a.bin", "raw/b.bin"}
    hashed = end_hashed(monkeypatch)
    moved = ws.trace(["mv", "raw", "archive"])
    assert moved.inputs == {"raw/a.bin", "raw/b.bin"}
    assert moved.outputs == {"archive/a.bin", "archive/b.bin"}
    assert moved.hash_of("archive/b.bin") == first.hash_of("raw/b.bin")
    assert not [path for path in hashed if "/archive/" in path]


@pytest.mark.parametrize("loop", ["c", "python"])
def test_a_file_the_job_renamed_is_not_read_again(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, loop: str
) -> None:
    """The rename gives the file a new ctime, but the seccomp tracer saw the one it had
    just before, which the hash cache knows it by under its old name."""
    ws.tracer = "seccomp"
    if loop == "python":
        monkeypatch.setenv("ROAR_SECCOMP_LOOP", "python")
    ws.write("inbox/data.bin", os.urandom(1 << 20))
    ws.write("inbox/other.bin", b"other")
    time.sleep(2.1)  # out of the hash cache's racy window (2 s after the last change)
    first = ws.trace(["sh", "-c", "cat inbox/data.bin inbox/other.bin > /dev/null"])
    assert first.inputs == {"inbox/data.bin", "inbox/other.bin"}
    (ws.root / "done").mkdir()
    hashed = end_hashed(monkeypatch)
    moved = ws.trace(["sh", "-c", "mv inbox/data.bin done/ && mv inbox/other.bin done/ && "
                      "echo changed >> done/other.bin"])  # fmt: skip
    assert moved.inputs == {"inbox/data.bin"}  # other.bin was written after its move
    assert moved.outputs == {"done/data.bin", "done/other.bin"}
    assert moved.hash_of("inbox/data.bin") == first.hash_of("inbox/data.bin")
    assert moved.hash_of("done/data.bin") == hash_file(ws.root / "done/data.bin")
    assert str(ws.root / "done/data.bin") not in hashed
    assert str(ws.root / "done/other.bin") in hashed  # its content changed: read anew


def test_a_file_changed_before_the_job_renamed_it_is_read_again(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same size, mtime put back: only the ctime tells, and the cache's entry must not."""
    ws.tracer = "seccomp"
    ws.write("inbox/data.bin", b"a" * 4096)
    time.sleep(2.1)
    first = ws.trace(["sh", "-c", "cat inbox/data.bin > /dev/null"])
    st = os.stat(ws.root / "inbox/data.bin")
    ws.write("inbox/data.bin", b"b" * 4096)
    os.utime(ws.root / "inbox/data.bin", ns=(st.st_atime_ns, st.st_mtime_ns))
    (ws.root / "done").mkdir()
    hashed = end_hashed(monkeypatch)
    moved = ws.trace(["mv", "inbox/data.bin", "done/"])
    assert moved.inputs == {"inbox/data.bin"}
    assert moved.hash_of("inbox/data.bin") == hash_file(ws.root / "done/data.bin")
    assert moved.hash_of("inbox/data.bin") != first.hash_of("inbox/data.bin")
    assert str(ws.root / "done/data.bin") in hashed
