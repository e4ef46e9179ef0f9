"""Which syscalls the seccomp tracer hears about, and the BPF program that says so (pure).

The filter runs in the kernel for every syscall of every traced process. It answers
"carry on" at once for all but the few calls that name paths roar records, and hands only
those to roar's supervisor (SECCOMP_RET_USER_NOTIF). Forks, clones, reads and writes never
leave the kernel, which is why this tracer costs a fraction of ptrace.

`roar run` builds its filter before its command starts (run/launch.py), so this module
imports only os, struct and sys: typing alone would cost milliseconds of every run.
"""

from __future__ import annotations

import os
import struct
import sys

__all__ = [
    "SYSCALLS",
    "TAIL_CALLS",
    "Arch",
    "SyscallSpec",
    "build_filter",
    "native_arch",
    "native_table",
]

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Collection, Mapping
    from typing import Literal

    Kind = Literal["open", "creat", "openat2", "exec", "rename", "link", "truncate"]
    _Label = Literal["allow", "notify"]


class SyscallSpec:
    """Where a syscall keeps what roar needs. Indexes are argument positions."""

    __slots__ = ("dirfd", "flags", "kind", "name", "old_dirfd", "old_path", "path")

    def __init__(
        self,
        name: str,
        kind: Kind,
        path: int,  # the path read, written or executed (the new name for rename/link)
        dirfd: int | None = None,  # the directory `path` is relative to (None: the cwd)
        flags: int | None = None,  # open flags, or renameat2 flags
        old_path: int | None = None,  # rename's source
        old_dirfd: int | None = None,
    ) -> None:
        self.name, self.kind, self.path, self.dirfd = name, kind, path, dirfd
        self.flags, self.old_path, self.old_dirfd = flags, old_path, old_dirfd

    def __repr__(self) -> str:
        return f"SyscallSpec({self.name!r}, {self.kind!r}, path={self.path})"


# name -> (how to read it). Numbers per architecture live in Arch.numbers.
SYSCALLS: dict[str, SyscallSpec] = {
    spec.name: spec
    for spec in (
        SyscallSpec("open", "open", path=0, flags=1),
        SyscallSpec("openat", "open", path=1, dirfd=0, flags=2),
        SyscallSpec("openat2", "openat2", path=1, dirfd=0, flags=2),  # flags: struct open_how*
        SyscallSpec("creat", "creat", path=0),
        SyscallSpec("truncate", "truncate", path=0),
        SyscallSpec("execve", "exec", path=0),
        SyscallSpec("execveat", "exec", path=1, dirfd=0),
        SyscallSpec("rename", "rename", path=1, old_path=0),
        SyscallSpec("renameat", "rename", path=3, dirfd=2, old_path=1, old_dirfd=0),
        SyscallSpec("renameat2", "rename", path=3, dirfd=2, old_path=1, old_dirfd=0, flags=4),
        SyscallSpec("link", "link", path=1, old_path=0),
        SyscallSpec("linkat", "link", path=3, dirfd=2, old_path=1, old_dirfd=0),
        SyscallSpec("symlink", "link", path=1),
        SyscallSpec("symlinkat", "link", path=2, dirfd=1),
    )
}


#: Calls that can change bytes a tail hasher already read (run/tail.py): writes at an
#: offset, seeks that can move a writer back, truncation and preallocation, shared file
#: mappings, and asynchronous I/O, whose writes the filter cannot see. name -> the argument
#: holding the file descriptor, or None for a call that concerns every file of the job.
#: Heard only with `tail_calls`, and then only in the forms that can (see _tail_block):
#: a tell (`lseek(fd, 0, SEEK_CUR)`), a skip forward, and a private mapping pass.
TAIL_CALLS: dict[str, int | None] = {
    "lseek": 0,
    "pwrite64": 0,
    "pwritev": 0,
    "pwritev2": 0,
    "ftruncate": 0,
    "fallocate": 0,
    "copy_file_range": 2,
    "splice": 2,
    "mmap": 4,
    "io_setup": None,
    "io_uring_setup": None,
    "open_by_handle_at": None,
}


class Arch:
    """One architecture's syscall numbers (name -> number; absent names do not exist)."""

    __slots__ = (
        "audit_arch",
        "change_numbers",
        "cwd_numbers",
        "machine",
        "numbers",
        "tail_numbers",
    )

    def __init__(
        self,
        machine: str,
        audit_arch: int,  # AUDIT_ARCH_* as seen in seccomp_data.arch
        numbers: dict[str, int],  # the calls in SYSCALLS
        # chdir and fchdir: heard by the C supervisor only, which keeps each thread's cwd
        # for relative paths and must forget it when it changes (_supervisor.c, CwdCache)
        cwd_numbers: dict[str, int],
        # calls that change files without naming one roar records (unlink, rmdir, mkdir,
        # mknod, chmod): heard only by a gated start's C loop, which holds every change
        # until roar has read the git state (run/launch.py)
        change_numbers: dict[str, int],
        # TAIL_CALLS: heard only by the C loop, when a tail hasher needs them (run/tail.py)
        tail_numbers: dict[str, int],
    ) -> None:
        self.machine, self.audit_arch, self.numbers = machine, audit_arch, numbers
        self.cwd_numbers, self.change_numbers = cwd_numbers, change_numbers
        self.tail_numbers = tail_numbers


_X86_64 = Arch(
    "x86_64",
    0xC000003E,
    {"open": 2, "creat": 85, "truncate": 76, "rename": 82, "link": 86, "symlink": 88,
     "execve": 59, "openat": 257, "renameat": 264, "linkat": 265, "symlinkat": 266,
     "renameat2": 316, "execveat": 322, "openat2": 437},
    {"chdir": 80, "fchdir": 81},
    {"unlink": 87, "rmdir": 84, "mkdir": 83, "mknod": 133, "chmod": 90, "fchmod": 91,
     "mkdirat": 258, "mknodat": 259, "unlinkat": 263, "fchmodat": 268, "fchmodat2": 452},
    {"lseek": 8, "mmap": 9, "pwrite64": 18, "ftruncate": 77, "io_setup": 206, "splice": 275,
     "fallocate": 285, "pwritev": 296, "open_by_handle_at": 304, "copy_file_range": 326,
     "pwritev2": 328, "io_uring_setup": 425},
)  # fmt: skip
_AARCH64 = Arch(
    "aarch64",
    0xC00000B7,
    {"openat": 56, "truncate": 45, "renameat": 38, "renameat2": 276, "linkat": 37,
     "symlinkat": 36, "execve": 221, "execveat": 281, "openat2": 437},
    {"chdir": 49, "fchdir": 50},
    {"mknodat": 33, "mkdirat": 34, "unlinkat": 35, "fchmod": 52, "fchmodat": 53,
     "fchmodat2": 452},
    {"io_setup": 0, "ftruncate": 46, "fallocate": 47, "lseek": 62, "pwrite64": 68,
     "pwritev": 70, "splice": 76, "mmap": 222, "open_by_handle_at": 265,
     "copy_file_range": 285, "pwritev2": 287, "io_uring_setup": 425},
)  # fmt: skip
_ARCHES = {arch.machine: arch for arch in (_X86_64, _AARCH64)}


def native_arch() -> Arch | None:
    """This machine's syscall table, or None where the seccomp tracer has none."""
    return _ARCHES.get(os.uname().machine)


# Classic BPF, as the kernel's seccomp filter runs it.
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JSET_K = 0x45
_RET_K = 0x06
_SECCOMP_RET_ALLOW = 0x7FFF0000
_SECCOMP_RET_USER_NOTIF = 0x7FC00000
_OFFSET_NR = 0
_OFFSET_ARCH = 4
_OFFSET_ARGS = 16  # u64 each; the low half first on a little-endian machine
_LOW_HALF = 4 if sys.byteorder == "big" else 0

#: Opens with these flags name a directory or only a place, never a file whose content
#: is read or written; the decoder ignores them (O_TMPFILE includes O_DIRECTORY: such a
#: file is seen when linkat gives it a name). The filter lets them pass in the kernel, so
#: the directory scans of an interpreter's start-up (a tenth of its opens) cost nothing.
NOT_A_FILE_FLAGS = os.O_DIRECTORY | getattr(os, "O_PATH", 0)


def _stmt(code: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, 0, 0, k)


def _jump(code: int, k: int, jump_true: int, jump_false: int) -> bytes:
    return struct.pack("=HBBI", code, jump_true, jump_false, k)


if TYPE_CHECKING:
    # (code, k, true target, false target): a target is a label or a relative offset.
    _Entry = tuple[int, int, _Label | int, _Label | int]
_SEEK_CUR, _SEEK_END = 1, 2
_MAP_SHARED, _MAP_ANONYMOUS = 0x01, 0x20
_SIGN_BIT = 0x80000000


def _argument(index: int, *, high: bool = False) -> _Entry:
    """Load half of argument `index` into the accumulator."""
    half = (4 - _LOW_HALF) if high else _LOW_HALF
    return (_LD_W_ABS, _OFFSET_ARGS + 8 * index + half, 0, 0)


def _tail_block(name: str) -> list[_Entry]:
    """After `name`'s number matched: the test that lets its harmless forms pass.

    lseek: a tell or a move forward from the position or from the end (whence SEEK_CUR
    or SEEK_END, offset >= 0) leaves a writer at or past every byte it wrote; any other
    seek may move it back. copy_file_range and splice write at the descriptor's position
    unless given an output offset. mmap matters only for a shared mapping of a file.
    """
    if name == "lseek":
        return [
            _argument(2),
            (_JEQ_K, _SEEK_CUR, 1, 0),
            (_JEQ_K, _SEEK_END, 0, "notify"),
            _argument(1, high=True),
            (_JSET_K, _SIGN_BIT, "notify", "allow"),
        ]
    if name in ("copy_file_range", "splice"):
        return [
            _argument(3),
            (_JEQ_K, 0, 0, "notify"),
            _argument(3, high=True),
            (_JEQ_K, 0, "allow", "notify"),
        ]
    if name == "mmap":
        return [
            _argument(3),
            (_JSET_K, _MAP_SHARED, 0, "allow"),
            (_JSET_K, _MAP_ANONYMOUS, "allow", "notify"),
        ]
    return [(_JEQ_K, 0, "notify", "notify")]  # every form: hand it over


def build_filter(
    arch: Arch, *, cwd_calls: bool = False, change_calls: bool = False, tail_calls: bool = False
) -> tuple[bytes, int]:
    """The program (as `struct sock_filter[]` bytes) and its length in instructions;
    `cwd_calls`: chdir and fchdir are heard too (for the C supervisor's cwd cache);
    `change_calls`: so are unlink, rmdir, mkdir, mknod and chmod (for the C supervisor's
    gate); `tail_calls`: so are the TAIL_CALLS, in the forms _tail_block lets through.

    Calls from another ABI (a 32-bit process on a 64-bit kernel) pass unheard: their
    numbers differ, and the tracer documents that gap rather than mis-decoding them.
    """
    # Syscalls whose open flags sit in an argument: tested before the plain list.
    flagged = {
        number: spec.flags
        for name, number in arch.numbers.items()
        if (spec := SYSCALLS[name]).kind == "open" and spec.flags is not None
    }
    heard = [
        *arch.numbers.values(),
        *(arch.cwd_numbers.values() if cwd_calls else ()),
        *(arch.change_numbers.values() if change_calls else ()),
    ]
    plain = sorted(n for n in heard if n not in flagged)
    body: list[_Entry] = []
    for number, flags_index in sorted(flagged.items()):
        body.append((_JEQ_K, number, 0, 2))  # another syscall: skip the flag test
        body.append((_LD_W_ABS, _OFFSET_ARGS + 8 * flags_index + _LOW_HALF, 0, 0))
        body.append((_JSET_K, NOT_A_FILE_FLAGS, "allow", "notify"))
    for number in plain:
        body.append((_JEQ_K, number, "notify", 0))
    if tail_calls:
        for name, number in sorted(arch.tail_numbers.items(), key=lambda item: item[1]):
            block = _tail_block(name)
            body.append((_JEQ_K, number, 0, len(block)))  # another syscall: skip the block
            body.extend(block)
    head = [
        _stmt(_LD_W_ABS, _OFFSET_ARCH),
        _jump(_JEQ_K, arch.audit_arch, 1, 0),
        _stmt(_RET_K, _SECCOMP_RET_ALLOW),
        _stmt(_LD_W_ABS, _OFFSET_NR),
    ]
    labels = {"allow": len(body), "notify": len(body) + 1}  # the two returns after the body

    def offset(index: int, target: _Label | int) -> int:
        jump = labels[target] - index - 1 if isinstance(target, str) else target
        if not 0 <= jump <= 255:  # a classic BPF jump is one byte
            raise ValueError(f"seccomp filter too long: a jump of {jump} instructions")
        return jump

    program = list(head)
    for index, (code, k, if_true, if_false) in enumerate(body):
        if code == _LD_W_ABS:
            program.append(_stmt(code, k))
        else:
            program.append(_jump(code, k, offset(index, if_true), offset(index, if_false)))
    program.append(_stmt(_RET_K, _SECCOMP_RET_ALLOW))
    program.append(_stmt(_RET_K, _SECCOMP_RET_USER_NOTIF))
    return b"".join(program), len(program)


#: The C loop's kinds (_supervisor.c): what a table entry tells it to do with a call.
_KIND_CODES = {"open": 1, "openat2": 2, "exec": 3, "rename": 4, "creat": 5, "truncate": 5,
               "link": 5}  # fmt: skip
KIND_CWD = 6  # chdir, fchdir: heard by the C loop, never decoded
KIND_CHANGE = 7  # unlink, rmdir, chmod: heard for the gate, never decoded
KIND_REWRITE = 8  # the TAIL_CALLS: heard for a tail hasher, never decoded
KIND_MAKE = 9  # mkdir, mknod: heard for the gate, never decoded; they only make a new name
#: Change calls that only make a new name: where the name exists they fail (EEXIST) and
#: change nothing, so they pass a gate that lets creations through (run/launch.py).
MAKE_CALLS = frozenset({"mkdir", "mkdirat", "mknod", "mknodat"})


def native_table(
    decoder_specs: Mapping[int, SyscallSpec],
    cwd_numbers: Collection[int] = (),
    change_numbers: Mapping[str, int] | None = None,
    tail_calls: Mapping[int, int | None] | None = None,
) -> bytes:
    """The C loop's table: 6 signed bytes per syscall number, -1 for "none"; the
    `cwd_numbers` (chdir, fchdir) and the `change_numbers` (name -> number: unlink, rmdir,
    mkdir, mknod, chmod, for the gate; the MAKE_CALLS among them marked as such) only
    heard, with nothing to decode; the `tail_calls` (number -> the argument holding a
    descriptor, None for every file) looked at for a tail hasher."""
    tail_calls = tail_calls or {}
    change_numbers = change_numbers or {}
    numbers = [*decoder_specs, *cwd_numbers, *change_numbers.values(), *tail_calls]
    size = max(numbers, default=-1) + 1
    table = bytearray(b"\xff" * (6 * size))
    for number, spec in decoder_specs.items():
        fields = (spec.path, spec.dirfd, spec.flags, spec.old_path, spec.old_dirfd)
        values = [-1 if f is None else f for f in fields] + [_KIND_CODES[spec.kind]]
        table[6 * number : 6 * number + 6] = struct.pack("6b", *values)
    for number in cwd_numbers:
        table[6 * number + 5] = KIND_CWD
    for name, number in change_numbers.items():
        table[6 * number + 5] = KIND_MAKE if name in MAKE_CALLS else KIND_CHANGE
    for number, fd_index in tail_calls.items():
        table[6 * number + 1] = 0xFF if fd_index is None else fd_index  # the dirfd field
        table[6 * number + 5] = KIND_REWRITE
    return bytes(table)


def decoder_specs(arch: Arch) -> dict[int, SyscallSpec]:
    """Syscall number -> how to decode it, for `arch`."""
    return {number: SYSCALLS[name] for name, number in arch.numbers.items()}


def tail_calls(arch: Arch) -> dict[int, int | None]:
    """Syscall number -> the argument holding its descriptor, for the TAIL_CALLS."""
    return {number: TAIL_CALLS[name] for name, number in arch.tail_numbers.items()}
