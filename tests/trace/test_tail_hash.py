"""Outputs hashed as they are written (run/tail.py), on the seccomp tracer's C loop: a tail
digest is used only when the trace proves no byte it read was written again, and roar's
recorded hash is the file's BLAKE3 whatever the command did to it."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from roar.hashing import hash_file
from roar.run.early import EarlyHasher
from roar.run.tail import TailDigest, proven_entries
from roar.trace.base import TraceResult
from roar.trace.seccomp_tracer import SeccompTracer
from tests.trace.conftest import PY, Workspace

MIB = 1 << 20

# Writes 8 MiB of out.bin, then waits until the tail has read it (the test's hook leaves
# `tailed` once it has), then does STEP, then writes 4 MiB more. The tail runs at the
# lowest CPU priority, so on a saturated machine it may not get there in time; the wait
# then gives up and the step comes first, which the proof must reject all the same. The
# wait counts its naps, not the clock: a virtual machine paused for a while must not use
# it up at once.
_PROGRAM = """\
import mmap, os, time
block = os.urandom({mib})
def wait_for_tail():
    for _ in range(3000):
        if os.path.exists("tailed"):
            break
        time.sleep(0.01)
{opening}
for _ in range(8):
    f.write(block)
f.flush()
wait_for_tail()
{step}
for _ in range(4):
    f.write(block)
f.close()
{after}
"""

#: name -> (how out.bin is opened, what is done once the tail has read 8 MiB, after close,
#: whether the tail's digest may be used)
_CASES = {
    "sequential": ('f = open("out.bin", "wb")', "pass", "", True),
    "read back with seeks": (
        'f = open("out.bin", "wb")',
        "pass",
        'r = open("out.bin", "rb"); r.seek(100); r.read(10); r.seek(0); r.read(10)',
        True,
    ),
    "renamed into place": (
        'f = open("out.tmp", "wb")',
        "pass",
        'os.replace("out.tmp", "out.bin")',
        True,
    ),
    "header rewritten": ('f = open("out.bin", "wb")', 'f.seek(0); f.write(b"HEADER")', "", False),
    "pwrite behind": (
        'f = open("out.bin", "wb")',
        'os.pwrite(f.fileno(), b"patched", 10)',
        "",
        False,
    ),
    # grown: zeros the tail may read, then overwritten by the writes that follow
    "truncated longer": ('f = open("out.bin", "wb")', "f.truncate(20 * MIB)", "", False),
    "shared mapping": (
        'f = open("out.bin", "w+b")',
        'm = mmap.mmap(f.fileno(), 4096); m[:5] = b"dirty"; m.close()',
        "",
        False,
    ),
    "second writer": (
        'f = open("out.bin", "wb")',
        'g = open("out.bin", "r+b"); g.write(b"overwritten"); g.close()',
        "",
        False,
    ),
    "hard link": (
        'f = open("out.bin", "wb"); os.link("out.bin", "alias.bin")',
        'g = open("alias.bin", "r+b"); g.write(b"overwritten"); g.close()',
        'os.unlink("alias.bin")',
        False,
    ),
    "through /proc/self/fd": (
        'f = open("out.bin", "wb")',
        'g = open(f"/proc/self/fd/{f.fileno()}", "r+b"); g.write(b"overwritten"); g.close()',
        "",
        False,
    ),
}


def _mark_when_tailed(monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
    """Leave `tailed` in `root` once a tail has read 8 MiB."""
    from roar.run import tail as tail_module

    advance = tail_module._Tail.advance

    def advance_then_mark(self: tail_module._Tail, *args: object, **kwargs: object) -> bool:
        moved = advance(self, *args, **kwargs)  # type: ignore[arg-type]
        if self.done >= 8 * MIB:
            (root / "tailed").touch()
        return moved

    monkeypatch.setattr(tail_module._Tail, "advance", advance_then_mark)


def _program(case: str) -> str:
    opening, step, after, _proven = _CASES[case]
    return _PROGRAM.format(mib=MIB, opening=opening, step=step, after=after).replace(
        "MIB", str(MIB)
    )


def _trace(root: Path, program: str) -> tuple[TraceResult, list[TailDigest]]:
    (root / "step.py").write_text(textwrap.dedent(program))
    early = EarlyHasher(lambda: lambda _path, _is_output: True)
    try:
        result = SeccompTracer().run(
            [PY, "step.py"], cwd=str(root), env=dict(os.environ), opened=early.opened
        )
    finally:
        early.finish()
    return result, early.tailed()


@pytest.fixture
def c_loop() -> None:
    if not SeccompTracer().native_loop:
        pytest.fail("roar's C supervisor was not built; `make test` builds it")


@pytest.mark.parametrize("case", sorted(_CASES))
def test_a_tail_digest_is_used_only_when_the_trace_proves_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, c_loop: None, case: str
) -> None:
    _mark_when_tailed(monkeypatch, tmp_path)
    result, tailed = _trace(tmp_path, _program(case))
    assert result.exit_code == 0
    assert tailed, "the output was never tailed"
    out = tmp_path / "out.bin"
    entries = proven_entries(tailed, result.rewrites, {str(out): out.stat()})
    expect_proven = _CASES[case][3]
    assert (str(out) in entries) is expect_proven
    if expect_proven:
        assert entries[str(out)].hash == hash_file(out)


def test_a_previous_run_s_output_is_tailed_once_its_open_emptied_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, c_loop: None
) -> None:
    """A job run again writes its big output over the last run's. The tail waits until
    the emptying open has run (the C loop tells it the old file's inode and ctime), then
    follows the new bytes only: its digest is the new file's, and the trace proves it."""
    _mark_when_tailed(monkeypatch, tmp_path)
    out = tmp_path / "out.bin"
    out.write_bytes(os.urandom(16 * MIB))  # the last run's output, bigger than this one's
    result, tailed = _trace(tmp_path, _program("sequential"))
    assert result.exit_code == 0
    assert tailed, "the output was never tailed"
    entries = proven_entries(tailed, result.rewrites, {str(out): out.stat()})
    assert entries[str(out)].hash == hash_file(out)
    assert out.stat().st_size == 12 * MIB


def test_a_read_only_seek_before_any_write_costs_no_lookup(tmp_path: Path, c_loop: None) -> None:
    """Seeks and shared read-only mappings of a file opened for reading are never
    reported: they cannot change it."""
    (tmp_path / "data.bin").write_bytes(os.urandom(MIB))
    program = """\
    import mmap
    f = open("data.bin", "rb"); f.seek(100); f.read(1); f.seek(0)
    m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ); m.close()
    open("out.txt", "w").write("x")
    f.seek(5); f.read(1)
    """
    result, _tailed = _trace(tmp_path, program)
    assert result.exit_code == 0
    assert result.rewrites is not None
    assert result.rewrites.rewritten == set()
    assert not result.rewrites.everything


def test_without_a_listener_the_trace_reports_no_facts(tmp_path: Path, c_loop: None) -> None:
    """No `opened` callback: nobody tails, so the filter stops no extra calls."""
    (tmp_path / "step.py").write_text('open("out.bin", "wb").write(b"x")\n')
    result = SeccompTracer().run([PY, "step.py"], cwd=str(tmp_path), env=dict(os.environ))
    assert result.rewrites is None


@pytest.mark.parametrize("case", ["sequential", "header rewritten", "pwrite behind"])
def test_roar_run_records_the_file_s_own_hash(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, c_loop: None, case: str
) -> None:
    _mark_when_tailed(monkeypatch, ws.root)
    ws.tracer = "seccomp"
    traced = ws.python(_program(case))
    assert traced.outcome.exit_code == 0
    assert traced.hash_of("out.bin") == hash_file(ws.root / "out.bin")


def test_a_run_that_fails_after_the_command_leaves_no_tail_reading(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, c_loop: None
) -> None:
    """When recording fails after the command ended, the tails' rest (read on a thread of
    its own) is done and its files closed before run_job raises: no thread outlives it."""
    import threading

    from roar.run import recording
    from roar.run.tail import Tails

    _mark_when_tailed(monkeypatch, ws.root)
    finish = Tails.finish

    def slow_finish(self: Tails) -> list[TailDigest]:
        threading.Event().wait(1.0)  # a rest that takes a while to read
        return finish(self)

    monkeypatch.setattr(Tails, "finish", slow_finish)

    def failing(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("recording failed")

    monkeypatch.setattr(recording, "what_to_record", failing)
    ws.tracer = "seccomp"
    with pytest.raises(RuntimeError, match="recording failed"):
        ws.python(_program("sequential"))
    assert [t for t in threading.enumerate() if t.name == "roar-tail-end"] == []
