"""What is particular to the seccomp tracer: its filter, its place in `auto`, its gaps."""

from __future__ import annotations

import os
import shutil
import struct
import sysconfig
from pathlib import Path

import pytest

from roar.trace.probe_cache import PROBE_FILE, cached_probes, probe_key
from roar.trace.seccomp_filter import SYSCALLS, TAIL_CALLS, build_filter, native_arch
from tests.helpers import run_roar
from tests.trace.conftest import PY, Workspace


def test_every_syscall_in_the_tables_has_a_decoder() -> None:
    arch = native_arch()
    assert arch is not None, "roar's CI runs on x86_64 or aarch64"
    assert set(arch.numbers) <= set(SYSCALLS)
    program, length = build_filter(arch)
    assert len(program) == 8 * length  # struct sock_filter is 8 bytes


_ALLOW, _NOTIFY = 0x7FFF0000, 0x7FC00000


def _run_filter(program: bytes, arch: int, nr: int, args: tuple[int, ...] = ()) -> int:
    """What the kernel's classic-BPF machine answers for one syscall (the opcodes the
    filter uses: load word, jump if equal, jump if any bit set, return)."""
    data = struct.pack("=iI Q", nr, arch, 0) + b"".join(
        struct.pack("=Q", a) for a in (*args, 0, 0, 0, 0, 0, 0)[:6]
    )
    accumulator, pc = 0, 0
    while True:
        code, jump_true, jump_false, k = struct.unpack_from("=HBBI", program, 8 * pc)
        pc += 1
        if code == 0x20:
            (accumulator,) = struct.unpack_from("=I", data, k)
        elif code == 0x15:
            pc += jump_true if accumulator == k else jump_false
        elif code == 0x45:
            pc += jump_true if accumulator & k else jump_false
        elif code == 0x06:
            return int(k)
        else:
            raise AssertionError(f"unexpected opcode {code:#x}")


def test_the_filter_stops_exactly_the_calls_that_name_files() -> None:
    arch = native_arch()
    assert arch is not None
    program, _ = build_filter(arch)
    audit = arch.audit_arch
    for name, number in arch.numbers.items():
        spec = SYSCALLS[name]
        args = [0] * 6
        if spec.flags is not None and spec.kind == "open":
            args[spec.flags] = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        assert _run_filter(program, audit, number, tuple(args)) == _NOTIFY, name
    for name in ("open", "openat"):
        if name not in arch.numbers:
            continue
        spec = SYSCALLS[name]
        assert spec.flags is not None
        for flags in (os.O_RDONLY | os.O_DIRECTORY, os.O_PATH, os.O_TMPFILE | os.O_WRONLY):
            args = [0] * 6
            args[spec.flags] = flags | (1 << 40)  # high bits must not confuse the test
            assert _run_filter(program, audit, arch.numbers[name], tuple(args)) == _ALLOW
        for flags in (os.O_RDONLY, os.O_RDWR | os.O_APPEND, os.O_WRONLY | os.O_CLOEXEC):
            args = [0] * 6
            args[spec.flags] = flags
            assert _run_filter(program, audit, arch.numbers[name], tuple(args)) == _NOTIFY
    watched = set(arch.numbers.values())
    for number in range(0, 460):
        if number not in watched:
            assert _run_filter(program, audit, number, (0, 0, os.O_DIRECTORY)) == _ALLOW, number
    other_abi = audit ^ 0x1
    assert _run_filter(program, other_abi, arch.numbers["openat"]) == _ALLOW


def test_chdir_and_fchdir_are_heard_only_by_the_c_loop_and_never_decoded() -> None:
    """The C supervisor keeps each thread's cwd, so it must hear every change of it; the
    Python loop reads the cwd afresh each time and is spared those stops."""
    from roar.trace.seccomp_tracer import native_table

    arch = native_arch()
    assert arch is not None
    assert set(arch.cwd_numbers) == {"chdir", "fchdir"}
    assert not set(arch.cwd_numbers) & set(SYSCALLS)  # nothing to record from them
    with_cwd, _ = build_filter(arch, cwd_calls=True)
    without, _ = build_filter(arch)
    for number in arch.cwd_numbers.values():
        assert _run_filter(with_cwd, arch.audit_arch, number) == _NOTIFY
        assert _run_filter(without, arch.audit_arch, number) == _ALLOW
    openat = arch.numbers["openat"]
    assert _run_filter(with_cwd, arch.audit_arch, openat, (0, 0, os.O_RDONLY)) == _NOTIFY
    specs = {number: SYSCALLS[name] for name, number in arch.numbers.items()}
    table = native_table(specs, arch.cwd_numbers.values())
    for number in arch.cwd_numbers.values():
        entry = struct.unpack_from("6b", table, 6 * number)
        assert entry == (-1, -1, -1, -1, -1, 6)  # kind "cwd", no path to read
    assert struct.unpack_from("6b", table, 6 * openat)[0] == SYSCALLS["openat"].path


def test_auto_prefers_seccomp_and_remembers_the_probe(ws: Workspace) -> None:
    ws.write("in.txt")
    legacy = ws.root / ".roar" / f"{PROBE_FILE}.json"  # what roar kept before the line format
    (ws.root / ".roar" / PROBE_FILE).unlink(missing_ok=True)
    legacy.write_text('{"key": "old", "tracers": {}}')
    result = run_roar("run", "cat", "in.txt", cwd=ws.root)
    assert not legacy.exists()
    assert result.code == 0, result.stderr
    probes = cached_probes(ws.root / ".roar" / PROBE_FILE, probe_key())
    assert probes["seccomp"][0] is True
    check = run_roar("tracer", "check", cwd=ws.root)
    assert "auto uses: seccomp" in check.stdout


def test_roar_inside_roar_hands_the_inner_job_to_strace(ws: Workspace) -> None:
    """A process can carry only one seccomp listener; the inner run must not fail for it."""
    ws.write("in.txt", "x")
    ws.script(
        "inner.py",
        """
        import subprocess, sys
        roar = sys.argv[1]
        auto = subprocess.run([roar, "run", "cp", "in.txt", "auto.txt"], capture_output=True,
                              text=True)
        sys.stderr.write(auto.stderr)
        forced = subprocess.run([roar, "run", "--tracer", "seccomp", "cp", "in.txt", "x.txt"],
                                capture_output=True, text=True)
        sys.stderr.write(forced.stderr)
        named = subprocess.run([roar, "run", "--tracer", "strace", "cp", "in.txt", "s.txt"],
                               capture_output=True, text=True)
        sys.stderr.write(named.stderr)
        print(auto.returncode, forced.returncode, named.returncode)
        """,
    )
    from tests.helpers import ROAR

    outer = run_roar("run", "--tracer", "seccomp", PY, "inner.py", str(ROAR), cwd=ws.root)
    assert outer.code == 0, outer.stderr
    assert outer.stdout.split() == ["0", "7", "0"]
    assert "seccomp: the job already runs under a seccomp listener" in outer.stderr
    assert "used strace" in outer.stderr
    assert "cannot trace with seccomp" in outer.stderr
    assert (ws.root / "auto.txt").read_text() == "x"
    assert not (ws.root / "x.txt").exists()  # refused before the command ran
    with ws.project.open_store() as store:
        inner, named, outer_job = sorted(store.list_jobs(), key=lambda job: job.id)
        # strace without seccomp-bpf, which the outer listener would have left blind, both
        # when auto falls back to it and when it is asked for by name
        assert [ref.path for ref in store.job_inputs(inner.id)] == ["in.txt"]
        assert [ref.path for ref in store.job_outputs(inner.id)] == ["auto.txt"]
        assert [ref.path for ref in store.job_inputs(named.id)] == ["in.txt"]
        assert [ref.path for ref in store.job_outputs(named.id)] == ["s.txt"]
    assert inner.step == "cp"
    assert inner.parent_job == outer_job.id  # the outer run adopted the nested one
    assert named.parent_job == outer_job.id


def test_the_c_supervisor_loop_is_built_and_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    headers = Path(sysconfig.get_paths()["include"], "Python.h")
    if shutil.which("gcc") is None or not headers.exists():
        pytest.skip("no C compiler or Python headers: roar installed without its C loop")
    from roar.trace.seccomp_tracer import SeccompTracer

    assert SeccompTracer().native_loop
    monkeypatch.setenv("ROAR_SECCOMP_LOOP", "python")
    assert not SeccompTracer().native_loop


def test_a_listener_above_is_seen_and_none_is_imagined(tmp_path: Path) -> None:
    """strace asked for by name drops seccomp-bpf only under a listener (see StraceTracer)."""
    from roar.trace.seccomp_kernel import under_listener
    from roar.trace.seccomp_tracer import SeccompTracer
    from roar.trace.strace_tracer import StraceTracer

    assert under_listener() is False
    assert StraceTracer().seccomp_bpf is True
    script = tmp_path / "ask.py"
    script.write_text(
        "from roar.trace.seccomp_kernel import under_listener\n"
        "from roar.trace.strace_tracer import StraceTracer\n"
        "open('answer.txt', 'w').write(f'{under_listener()} {StraceTracer().seccomp_bpf}')\n"
    )
    result = SeccompTracer().run([PY, str(script)], cwd=str(tmp_path), env=dict(os.environ))
    assert result.exit_code == 0
    assert (tmp_path / "answer.txt").read_text() == "True False"


def test_tail_calls_are_heard_only_in_the_forms_that_can_write_behind_a_file_s_end() -> None:
    """With tail_calls (seccomp_filter.TAIL_CALLS), a tell, a seek forward and a private
    or anonymous mapping pass in the kernel; a seek that may go back, a write at an
    offset, truncation, a shared file mapping and asynchronous I/O are handed over."""
    arch = native_arch()
    assert arch is not None
    tails, _ = build_filter(arch, cwd_calls=True, tail_calls=True)
    plain, _ = build_filter(arch, cwd_calls=True)
    audit, number = arch.audit_arch, arch.tail_numbers
    back = (1 << 64) - 8  # -8 as the kernel sees an off_t
    cases = [
        ("lseek", (3, 0, 1), _ALLOW),  # a tell
        ("lseek", (3, 4096, 1), _ALLOW),  # forward from here
        ("lseek", (3, 1 << 40, 2), _ALLOW),  # past the end
        ("lseek", (3, back, 1), _NOTIFY),
        ("lseek", (3, back, 2), _NOTIFY),
        ("lseek", (3, 0, 0), _NOTIFY),  # SEEK_SET
        ("lseek", (3, 0, 3), _NOTIFY),  # SEEK_DATA
        ("mmap", (0, 4096, 3, 0x02, 3, 0), _ALLOW),  # MAP_PRIVATE
        ("mmap", (0, 4096, 3, 0x21, -1 & 0xFFFFFFFF, 0), _ALLOW),  # MAP_SHARED|ANONYMOUS
        ("mmap", (0, 4096, 3, 0x01, 3, 0), _NOTIFY),  # MAP_SHARED of a file
        ("mmap", (0, 4096, 1, 0x03, 3, 0), _NOTIFY),  # MAP_SHARED_VALIDATE
        ("copy_file_range", (3, 0, 4, 0, 100, 0), _ALLOW),  # at the output's position
        ("copy_file_range", (3, 0, 4, 0x7FFF0000, 100, 0), _NOTIFY),
        ("copy_file_range", (3, 0, 4, 1 << 40, 100, 0), _NOTIFY),  # the high half only
        ("splice", (3, 0, 4, 0, 100, 0), _ALLOW),
        ("splice", (3, 0, 4, 0x1000, 100, 0), _NOTIFY),
        *((name, (3, 0, 0), _NOTIFY) for name in ("pwrite64", "pwritev", "pwritev2")),
        *((name, (3, 0, 0), _NOTIFY) for name in ("ftruncate", "fallocate")),
        *((name, (0, 0, 0), _NOTIFY) for name in ("io_setup", "io_uring_setup")),
        ("open_by_handle_at", (3, 0, 0), _NOTIFY),
    ]
    for name, args, answer in cases:
        assert _run_filter(tails, audit, number[name], args) == answer, (name, args)
        assert _run_filter(plain, audit, number[name], args) == _ALLOW, (name, args)
    assert set(number) == set(TAIL_CALLS)
    # the calls heard before are heard as before
    openat = arch.numbers["openat"]
    assert _run_filter(tails, audit, openat, (0, 0, os.O_RDONLY)) == _NOTIFY
    assert _run_filter(tails, audit, openat, (0, 0, os.O_DIRECTORY)) == _ALLOW
    assert _run_filter(tails, audit, 0x7FFF, (0, 0, 0)) == _ALLOW


def test_the_c_loop_s_table_names_the_descriptor_of_each_tail_call() -> None:
    from roar.trace.seccomp_tracer import native_table

    arch = native_arch()
    assert arch is not None
    specs = {number: SYSCALLS[name] for name, number in arch.numbers.items()}
    tail_calls = {number: TAIL_CALLS[name] for name, number in arch.tail_numbers.items()}
    table = native_table(specs, arch.cwd_numbers.values(), (), tail_calls)
    for name, number in arch.tail_numbers.items():
        entry = struct.unpack_from("6b", table, 6 * number)
        fd_index = TAIL_CALLS[name]
        assert entry == (-1, -1 if fd_index is None else fd_index, -1, -1, -1, 8), name
    assert struct.unpack_from("6b", table, 6 * arch.tail_numbers["mmap"])[1] == 4
