"""The tracers that stream (seccomp, and strace, whose trace is parsed as it comes) tell
`opened` of the files a command opens while it runs, and what they tell never changes the
access log."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from roar.trace.base import Tracer
from roar.trace.seccomp_tracer import SeccompTracer
from roar.trace.strace_tracer import StraceTracer, _Teller, _TellingLog

PY = sys.executable


@pytest.mark.parametrize("tracer", [SeccompTracer, StraceTracer])
def test_opens_are_told_while_the_command_runs(tmp_path: Path, tracer: type[Tracer]) -> None:
    """The command waits for a marker that only the callback leaves, once it has heard of
    in1.txt as read; out.txt is told as written, before the command ends; and the records
    handed out on the way still all reach the access log."""
    (tmp_path / "in1.txt").write_text("1")
    (tmp_path / "in2.txt").write_text("2")
    told: list[str] = []
    written: list[str] = []

    def opened(reads: list[str], writes: list[str], fresh: list[str]) -> None:
        told.extend(reads)
        written.extend(writes)
        if any(p.endswith("/in1.txt") for p in reads):
            (tmp_path / "marker").touch()

    script = (
        "cat in1.txt > /dev/null; i=0;"
        " while [ ! -e marker ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); done;"
        " [ -e marker ] && cat in2.txt > out.txt; sleep 0.3"
    )
    result = tracer().run(
        ["sh", "-c", script], cwd=str(tmp_path), env={"PATH": "/usr/bin:/bin"}, opened=opened
    )
    assert result.exit_code == 0
    assert str(tmp_path / "in1.txt") in told
    assert str(tmp_path / "out.txt") in written
    assert str(tmp_path / "out.txt") not in told
    paths = result.log.paths
    assert paths[str(tmp_path / "in1.txt")].read
    assert paths[str(tmp_path / "in2.txt")].read
    assert paths[str(tmp_path / "out.txt")].write_intent


def test_each_fresh_open_is_told_with_the_file_its_path_named_before(tmp_path: Path) -> None:
    """A tail must not read a file before the open that empties it has run: the seccomp
    tracer tells, with each emptying or creating open, the file its path named when the
    open was heard (device, inode, ctime), or None where there was none; an open that
    neither empties nor creates is not fresh."""
    old = tmp_path / "old.bin"
    old.write_bytes(b"previous run")
    kept = tmp_path / "kept.bin"
    kept.write_bytes(b"appended to")
    before = old.stat()
    fresh: list[tuple[str, object]] = []
    program = (
        "open('new.bin', 'wb').write(b'n')\n"
        "open('old.bin', 'wb').write(b'o')\n"
        "open('kept.bin', 'ab').write(b'k')\n"
        "import time; time.sleep(0.3)\n"  # told before the end (nothing is told after it)
    )
    result = SeccompTracer().run(
        [PY, "-c", program],
        cwd=str(tmp_path),
        env=dict(os.environ),
        opened=lambda _r, _w, f: fresh.extend(f),
    )
    assert result.exit_code == 0
    told = dict(fresh)
    assert told[str(tmp_path / "new.bin")] is None
    assert told[str(tmp_path / "old.bin")] == (before.st_dev, before.st_ino, before.st_ctime_ns)
    assert str(tmp_path / "kept.bin") not in told


@pytest.mark.parametrize("tracer", [SeccompTracer, StraceTracer])
def test_telling_changes_nothing_in_the_log(tmp_path: Path, tracer: type[Tracer]) -> None:
    """The same command traced with and without `opened` (one that fails every time, too)
    gives the same access log, and every file is told once, while the run goes on: the
    records the seccomp tracer hands out mid-run, and strace's notes, lose nothing."""
    for i in range(2000):
        (tmp_path / f"f{i}.txt").write_text(str(i))
    program = (
        "import time\n"
        "for i in range(2000):\n"
        "    open(f'f{i}.txt').read()\n"
        "    if i == 1000: time.sleep(0.2)\n"  # the first half is surely told mid-run
        "open('w.txt', 'w').write('x')\n"
        "time.sleep(0.3)\n"  # and the rest before the end (nothing is told after it)
    )

    def trace(opened: object) -> dict[str, tuple[bool, bool, bool]]:
        result = tracer().run(
            [PY, "-c", program],
            cwd=str(tmp_path),
            env=dict(os.environ),
            opened=opened,  # type: ignore[arg-type]
        )
        assert result.exit_code == 0
        return {p: (s.read, s.write_intent, s.deleted) for p, s in result.log.paths.items()}

    reads: list[str] = []
    writes: list[str] = []

    def failing(_reads: list[str], _writes: list[str]) -> None:
        raise RuntimeError("a broken listener")

    plain = trace(None)
    assert trace(lambda r, w, _f: (reads.extend(r), writes.extend(w))) == plain
    assert trace(failing) == plain
    inputs = [str(tmp_path / f"f{i}.txt") for i in range(2000)]
    assert sorted(p for p in reads if p in inputs) == sorted(inputs)  # each once
    assert writes.count(str(tmp_path / "w.txt")) == 1


def test_records_that_fail_to_decode_mid_run_become_a_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The seccomp stream decodes records while the command runs. A failure there ends the
    decoding, as one at the end would, and says so on the job; the command is untouched."""
    import threading

    from roar.trace import seccomp_decode

    for i in range(200):
        (tmp_path / f"f{i}.txt").write_text(str(i))
    where: list[str] = []

    def undecodable(self: object, records: bytes) -> None:
        where.append(threading.current_thread().name)
        raise ValueError("undecodable")

    monkeypatch.setattr(seccomp_decode.Decoder, "apply_records", undecodable)
    program = (
        "import time\n"
        "for i in range(200):\n"
        "    open(f'f{i}.txt').read()\n"
        "time.sleep(0.3)\n"  # the stream takes the records before the end
        "raise SystemExit(3)\n"
    )
    result = SeccompTracer().run(
        [PY, "-c", program], cwd=str(tmp_path), env=dict(os.environ), opened=lambda r, w, f: None
    )
    assert result.exit_code == 3
    assert where == ["roar-seccomp-stream"]  # failed mid-run, and nothing was tried after
    assert any("could not be decoded (ValueError: undecodable)" in n for n in result.notes)


def test_the_log_notes_each_path_once_until_it_is_deleted() -> None:
    log = _TellingLog()
    log.read("/p/a")
    log.read("/p/a")
    log.write("/p/b")
    log.write("/p/b")
    log.remove("/p/b")
    log.write("/p/b")  # created again after a delete: new content to hash
    log.rename("/p/b", "/p/c")
    assert log.news == [("/p/a", False), ("/p/b", True), ("/p/b", True), ("/p/c", True)]


@pytest.mark.parametrize(
    ("news", "reads", "writes"),
    [
        ([("/a", False), ("/b", True)], ["/a"], ["/b"]),
        ([("/a", False), ("/a", True)], [], ["/a"]),  # a read-write open counts as written
        ([("/a", True), ("/b", True), ("/a", True)], [], ["/a", "/b"]),
    ],
)
def test_the_teller_sorts_news_into_reads_and_writes(
    news: list[tuple[str, bool]], reads: list[str], writes: list[str]
) -> None:
    log = _TellingLog()
    told: list[tuple[list[str], list[str]]] = []
    log.news = list(news)
    teller = _Teller(log, lambda r, w, _f: told.append((list(r), list(w))), period=0.01)
    for _ in range(500):
        if told:
            break
        os.sched_yield()
        teller._done.wait(0.01)
    teller.close()
    assert told == [(reads, writes)]
    assert log.news == []
