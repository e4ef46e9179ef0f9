"""The tail hasher's bookkeeping (run/tail.py), on real files with a fake clock."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path

import pytest
from blake3 import blake3

from roar.run.tail import TailDigest, Tails, _ReadBuffer, _Tail, proven_entries
from roar.trace.model import RewriteFacts

MIB = 1 << 20


def made(*paths: str) -> list[tuple[str, None]]:
    """Offers for files an open creates (no file at their paths before it)."""
    return [(path, None) for path in paths]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_an_output_is_looked_at_less_and_less_often_then_left_to_the_end(tmp_path: Path) -> None:
    clock = Clock()
    tails = Tails(min_bytes=MIB, clock=clock, inherited=())
    small = tmp_path / "small.txt"
    small.write_bytes(b"x")
    tails.offer(made(str(small)))
    assert tails.next_look_s() == 0.0
    waits = []
    while (wait := tails.next_look_s()) is not None:
        waits.append(round(wait, 3))
        clock.now += wait
        tails.work()
    assert waits == [0.0, 0.01, 0.04, 0.16, 0.64, 2.56, 10.24]  # given up after 5 s
    assert not tails.tailing


def test_a_job_writing_thousands_of_files_watches_only_the_first_few_hundred(
    tmp_path: Path,
) -> None:
    tails = Tails(min_bytes=MIB, clock=Clock(), inherited=())
    tails.offer(made(*(str(tmp_path / f"f{i}") for i in range(1000))))
    assert len(tails._candidates) == 256


@pytest.fixture(params=["mapped", "read"])
def way(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Tails hash mapped bytes where the C part was built, read ones elsewhere."""
    if request.param == "read":
        monkeypatch.setattr("roar.hashing.mapped.ZERO_COPY", False)
    return str(request.param)


def test_a_growing_output_is_tailed_and_read_to_its_end(tmp_path: Path, way: str) -> None:
    clock = Clock()
    tails = Tails(min_bytes=MIB, clock=clock, inherited=())
    out = tmp_path / "out.bin"
    data = os.urandom(9 * MIB + 5)
    out.write_bytes(data[: 2 * MIB])
    tails.offer(made(str(out)))
    assert tails.work() is False  # tailed now, but not a whole step written yet
    assert tails.tailing
    with open(out, "ab") as handle:
        handle.write(data[2 * MIB : 6 * MIB])
        assert tails.work() is True  # one step (4 MiB) of it
        assert tails.work() is False  # the writer is less than a step ahead
        handle.write(data[6 * MIB :])
    (digest,) = tails.finish()
    assert digest.hash == blake3(data).hexdigest()
    assert digest.st.st_size == len(data)
    assert not tails.tailing
    # mapped bytes need no buffer: none is made (zeroing it cost every run milliseconds)
    assert (tails._buffer._bytes is None) == (way == "mapped")


def test_a_tailed_output_that_shrinks_gives_no_digest(tmp_path: Path, way: str) -> None:
    tails = Tails(min_bytes=MIB, clock=Clock(), inherited=())
    out = tmp_path / "out.bin"
    out.write_bytes(os.urandom(9 * MIB))
    tails.offer(made(str(out)))
    assert tails.work() is True
    os.truncate(out, MIB)
    tails.work()
    assert not tails.tailing
    assert tails.finish() == []


def test_an_output_opened_for_writing_twice_is_not_tailed(tmp_path: Path) -> None:
    out = tmp_path / "out.bin"
    out.write_bytes(os.urandom(2 * MIB))
    tails = Tails(min_bytes=MIB, clock=Clock(), inherited=())
    tails.offer(made(str(out)))
    tails.work()
    tails.offer(made(str(out)))
    tails.work()
    assert tails.finish() == []


def test_a_file_roar_s_own_output_goes_to_is_never_tailed(tmp_path: Path) -> None:
    out = tmp_path / "out.bin"
    out.write_bytes(os.urandom(2 * MIB))
    with open(out, "rb") as inherited:
        tails = Tails(min_bytes=MIB, clock=Clock(), inherited=(inherited.fileno(),))
        tails.offer(made(str(out)))
        tails.work()
        assert tails.finish() == []


def _tailed(path: Path) -> TailDigest:
    st = path.stat()
    return TailDigest(str(path), (st.st_dev, st.st_ino), st, blake3(path.read_bytes()).hexdigest())


def test_a_tail_is_used_only_with_every_fact_in_its_favour(tmp_path: Path) -> None:
    out = tmp_path / "out.bin"
    out.write_bytes(b"content")
    tail = _tailed(out)
    stats = {str(out): out.stat()}

    def facts(**changes: object) -> RewriteFacts:
        made = RewriteFacts()
        made.write_opens, made.fresh = {str(out): 1}, {str(out)}
        for name, value in changes.items():
            setattr(made, name, value)
        return made

    assert proven_entries([tail], facts(), stats)[str(out)].hash == tail.hash
    assert proven_entries([tail], None, stats) == {}
    assert proven_entries([tail], facts(everything=True), stats) == {}
    assert proven_entries([tail], facts(rewritten={tail.inode}), stats) == {}
    assert proven_entries([tail], facts(write_opens={str(out): 2}), stats) == {}
    assert proven_entries([tail], facts(fresh=set()), stats) == {}
    other = str(tmp_path / "alias.bin")
    assert proven_entries([tail], facts(write_names={tail.inode: {other}}), stats) == {}
    assert str(out) in proven_entries([tail], facts(write_names={tail.inode: {str(out)}}), stats)
    out.write_bytes(b"changed")  # the file roar records is no longer what the tail read
    assert proven_entries([tail], facts(), {str(out): out.stat()}) == {}


def test_an_output_not_made_yet_when_it_is_offered_is_tailed_once_it_is(tmp_path: Path) -> None:
    """The tracer hears an open before it runs: the first look may find no file."""
    clock = Clock()
    tails = Tails(min_bytes=MIB, clock=clock, inherited=())
    out = tmp_path / "out.bin"
    tails.offer(made(str(out)))
    tails.work()
    assert not tails.tailing
    data = os.urandom(2 * MIB)
    out.write_bytes(data)
    clock.now += tails.next_look_s() or 0.0
    tails.work()
    assert tails.tailing
    (digest,) = tails.finish()
    assert digest.hash == blake3(data).hexdigest()


def _next_ctime_tick(path: Path) -> None:
    """Wait until a change to `path` now would give it a later ctime than it has."""
    before = path.stat().st_ctime_ns
    probe = path.with_suffix(".probe")
    while True:
        probe.write_bytes(b"")
        if probe.stat().st_ctime_ns > before:
            probe.unlink()
            return
        time.sleep(0.001)


def test_the_old_content_of_a_file_its_open_will_empty_is_never_tailed(tmp_path: Path) -> None:
    """Offered before the emptying open ran, an existing file still holds its old bytes:
    a tail that read them, and then what the writer wrote after the emptying, would give
    a digest of neither. It waits until the file is not the one the tracer was told of."""
    clock = Clock()
    tails = Tails(min_bytes=MIB, clock=clock, inherited=())
    out = tmp_path / "out.bin"
    out.write_bytes(os.urandom(9 * MIB))  # a previous run's output
    old = out.stat()
    tails.offer([(str(out), (old.st_dev, old.st_ino, old.st_ctime_ns))])
    for _ in range(3):
        tails.work()
        assert not tails.tailing
        clock.now += tails.next_look_s() or 0.0
    _next_ctime_tick(out)
    new = os.urandom(5 * MIB)
    with open(out, "wb") as handle:  # the open runs: emptied, then written again
        handle.write(new)
    tails.work()
    assert tails.tailing
    (digest,) = tails.finish()
    assert digest.hash == blake3(new).hexdigest()


def test_a_file_replaced_since_its_open_was_heard_is_tailed_at_once(tmp_path: Path) -> None:
    """A new inode at the path holds none of the old bytes, whatever its ctime."""
    tails = Tails(min_bytes=MIB, clock=Clock(), inherited=())
    out = tmp_path / "out.bin"
    out.write_bytes(os.urandom(2 * MIB))
    old = out.stat()
    keep = tmp_path / "keep.bin"
    os.link(out, keep)  # the old inode stays alive, so the new file cannot reuse it
    out.unlink()
    new = os.urandom(2 * MIB)
    out.write_bytes(new)
    tails.offer([(str(out), (old.st_dev, old.st_ino, out.stat().st_ctime_ns))])
    tails.work()
    assert tails.tailing
    (digest,) = tails.finish()
    assert digest.hash == blake3(new).hexdigest()


def _thread_nices() -> dict[int, int]:
    """This process's threads and their nice values (Linux)."""
    nices = {}
    for tid in os.listdir("/proc/self/task"):
        with contextlib.suppress(FileNotFoundError):  # a thread that just ended
            fields = Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
            nices[int(tid)] = int(fields[16])
    return nices


def test_a_pooled_tail_hashes_at_the_lowest_priority_and_its_rest_at_the_callers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out.bin"
    data = os.urandom(9 * MIB)
    out.write_bytes(data[: 5 * MIB])
    tails = Tails(min_bytes=MIB, clock=Clock(), inherited=(), threads=2)
    before = set(_thread_nices())
    seen_while_tailing: dict[int, int] = {}

    def tail_at_nice_19() -> None:  # as the early hasher's thread does
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        tails.offer(made(str(out)))
        assert tails.work() is True
        seen_while_tailing.update(_thread_nices())

    worker = threading.Thread(target=tail_at_nice_19)
    worker.start()
    worker.join()
    pool = set(seen_while_tailing) - before - {worker.native_id}
    assert len(pool) == 2
    assert {seen_while_tailing[tid] for tid in pool} == {19}

    with open(out, "ab") as handle:
        handle.write(data[5 * MIB :])
    seen_at_the_end: dict[int, int] = {}
    advance = _Tail.advance

    def spy(tail: _Tail, buffer: _ReadBuffer, *, until_end: bool = False) -> bool:
        seen_at_the_end.update(_thread_nices())
        return advance(tail, buffer, until_end=until_end)

    monkeypatch.setattr(_Tail, "advance", spy)
    (digest,) = tails.finish()
    assert digest.hash == blake3(data).hexdigest()
    finishing_pool = set(seen_at_the_end) - set(seen_while_tailing)
    assert len(finishing_pool) == 2  # made by finish(), on this thread
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert {seen_at_the_end[tid] for tid in finishing_pool} == {mine}


def test_tails_beyond_the_first_few_hash_on_the_early_hasher_s_thread(tmp_path: Path) -> None:
    tails = Tails(min_bytes=MIB, clock=Clock(), inherited=(), threads=2)
    paths = []
    for index in range(6):
        path = tmp_path / f"out{index}.bin"
        path.write_bytes(bytes([index]) * 2 * MIB)
        paths.append(str(path))
    tails.offer(made(*paths))
    tails.work()
    assert sorted(tail.threads for tail in tails._tails.values()) == [1, 1, 2, 2, 2, 2]
    digests = {digest.path: digest.hash for digest in tails.finish()}
    assert digests == {
        path: blake3(bytes([index]) * 2 * MIB).hexdigest() for index, path in enumerate(paths)
    }
