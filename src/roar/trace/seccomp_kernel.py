"""The kernel side of the seccomp tracer, through ctypes: install, receive, answer, peek.

Only this module touches seccomp(2), its ioctls and process_vm_readv(2); the tracer above it
works in terms of `Notification`s and byte strings. Errors come back as OSError with the
kernel's errno, for the tracer to translate.
"""

from __future__ import annotations

import ctypes
import errno
import os
import select
import struct

__all__ = [
    "Listener",
    "Notification",
    "ProcessMemory",
    "install_listener",
    "under_listener",
]

_SYS_SECCOMP = {"x86_64": 317, "aarch64": 277}
_SECCOMP_SET_MODE_FILTER = 1
_SECCOMP_FILTER_FLAG_NEW_LISTENER = 1 << 3
_PR_SET_NO_NEW_PRIVS = 38
_USER_NOTIF_FLAG_CONTINUE = 1
_USER_NOTIF_FD_SYNC_WAKE_UP = 1
# _IOWR('!', 0, struct seccomp_notif), _IOWR('!', 1, struct seccomp_notif_resp),
# _IOW('!', 4, __u64): the ioctl numbers from <linux/seccomp.h>.
_IOCTL_NOTIF_RECV = 0xC0502100
_IOCTL_NOTIF_SEND = 0xC0182101
_IOCTL_NOTIF_SET_FLAGS = 0x40082104
_PAGE = 4096
_PATH_MAX = 4096
_FIRST_READ = 256

# dlopen(NULL): the interpreter's own symbols, libc's among them. ctypes.util.find_library
# would run `ldconfig -p` on every `roar run`, tens of milliseconds.
_libc = ctypes.CDLL(None, use_errno=True)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class Notification(ctypes.Structure):
    """struct seccomp_notif, with struct seccomp_data inlined."""

    _fields_ = [
        ("id", ctypes.c_uint64),
        ("pid", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("nr", ctypes.c_int32),
        ("arch", ctypes.c_uint32),
        ("instruction_pointer", ctypes.c_uint64),
        ("args", ctypes.c_uint64 * 6),
    ]


class _Response(ctypes.Structure):
    _fields_ = [
        ("id", ctypes.c_uint64),
        ("val", ctypes.c_int64),
        ("error", ctypes.c_int32),
        ("flags", ctypes.c_uint32),
    ]


class _IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


_string_at = ctypes.string_at


_libc.syscall.restype = ctypes.c_long
_libc.ioctl.restype = ctypes.c_int
_libc.process_vm_readv.restype = ctypes.c_ssize_t
_libc.process_vm_readv.argtypes = [
    ctypes.c_int,
    ctypes.POINTER(_IoVec),
    ctypes.c_ulong,
    ctypes.POINTER(_IoVec),
    ctypes.c_ulong,
    ctypes.c_ulong,
]
_process_vm_readv = _libc.process_vm_readv


def _raise_errno(what: str) -> None:
    code = ctypes.get_errno()
    raise OSError(code, f"{what}: {os.strerror(code)}")


def install_listener(program: bytes, length: int, machine: str) -> int:
    """In the process to be traced: install `program`, return the listener fd.

    Root keeps setuid programs working (no no_new_privs); anyone else must promise
    no_new_privs, which the kernel requires of an unprivileged filter.
    """
    number = _SYS_SECCOMP.get(machine)
    if number is None:
        raise OSError(errno.ENOSYS, f"no seccomp syscall number known for {machine}")
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(length, ctypes.cast(buffer, ctypes.c_void_p))
    flags = _SECCOMP_FILTER_FLAG_NEW_LISTENER
    if os.geteuid() != 0 and _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        _raise_errno("prctl(PR_SET_NO_NEW_PRIVS)")
    fd = int(_libc.syscall(number, _SECCOMP_SET_MODE_FILTER, flags, ctypes.byref(fprog)))
    if fd < 0 and ctypes.get_errno() == errno.EACCES:
        if _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            _raise_errno("prctl(PR_SET_NO_NEW_PRIVS)")
        fd = int(_libc.syscall(number, _SECCOMP_SET_MODE_FILTER, flags, ctypes.byref(fprog)))
    if fd < 0:
        _raise_errno("seccomp(SECCOMP_SET_MODE_FILTER)")
    return fd


#: BPF_RET|BPF_K with SECCOMP_RET_ALLOW: a filter that changes nothing.
_ALLOW_ALL = struct.pack("<HBBI", 0x06, 0, 0, 0x7FFF0000)


def under_listener() -> bool:
    """Whether this process already runs under a seccomp filter that has a listener (it
    is a command that `roar run` traces with seccomp, say).

    The kernel lets a process carry one such filter and answers a second with EBUSY, so a
    child tries to install one and exits with the answer before it would exec anything;
    this process stays as it was. Without any filter (/proc/self/status) no child is
    started. If the child cannot tell, a process that has filters is assumed to have a
    listener: a tracer that believes so is slower, not blind.
    """
    if _filter_count() == 0:
        return False
    import subprocess

    def try_one() -> None:  # in the child, before exec: syscalls only, then out
        code = 1  # EBUSY (a listener above), or it could not tell: both answer yes
        try:
            os.close(install_listener(_ALLOW_ALL, 1, os.uname().machine))
            code = 0
        except OSError:
            pass
        finally:
            os._exit(code)

    try:
        # Popen forks as subprocess always does; os.fork would warn in a threaded process.
        code = subprocess.Popen(["true"], preexec_fn=try_one).wait()  # noqa: PLW1509
    except (OSError, subprocess.SubprocessError):
        return True
    return code != 0


def _filter_count() -> int | None:
    """Seccomp filters on this process (Linux 5.9+ says), or None when not said."""
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"Seccomp_filters:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


class Listener:
    """The supervisor's end: receive a stopped syscall, let it go on unchanged."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.notification = Notification()
        self._notification_ref = ctypes.byref(self.notification)
        self._size = ctypes.sizeof(Notification)
        self._response = _Response(0, 0, 0, _USER_NOTIF_FLAG_CONTINUE)
        self._response_ref = ctypes.byref(self._response)

    def wake_synchronously(self) -> bool:
        """Ask the kernel (6.6+) to switch straight to us: 5x faster on a busy VM."""
        flag = ctypes.c_uint64(_USER_NOTIF_FD_SYNC_WAKE_UP)
        return int(_libc.ioctl(self.fd, _IOCTL_NOTIF_SET_FLAGS, flag)) == 0

    def receive(self) -> bool:
        """Wait for the next notification; False once no traced process is left."""
        while True:
            ctypes.memset(self._notification_ref, 0, self._size)
            if _libc.ioctl(self.fd, _IOCTL_NOTIF_RECV, self._notification_ref) == 0:
                return True
            code = ctypes.get_errno()
            if code == errno.EINTR:
                continue
            if code == errno.ENOENT and not self._hung_up():
                continue  # that process died before we looked; others remain
            return False

    def _hung_up(self) -> bool:
        poller = select.poll()
        poller.register(self.fd, select.POLLIN)
        return any(event & (select.POLLHUP | select.POLLERR) for _, event in poller.poll(0))

    def resume(self) -> None:
        """Let the syscall just received run as if nobody had looked."""
        self._response.id = self.notification.id
        if _libc.ioctl(self.fd, _IOCTL_NOTIF_SEND, self._response_ref) != 0:
            code = ctypes.get_errno()
            if code != errno.ENOENT:  # ENOENT: it was interrupted or killed meanwhile
                _raise_errno("seccomp notification reply")

    def close(self) -> None:
        os.close(self.fd)


class ProcessMemory:
    """Reads from the memory of stopped tracees; one per supervisor thread (own buffers)."""

    def __init__(self) -> None:
        self._buffer = ctypes.create_string_buffer(2 * _PAGE + 1)  # +1: room for a NUL
        self._address = ctypes.addressof(self._buffer)
        self._local = (_IoVec * 1)(_IoVec(ctypes.cast(self._buffer, ctypes.c_void_p), 2 * _PAGE))
        self._remote = (_IoVec * 2)()

    def read_bytes(self, pid: int, address: int, size: int) -> bytes | None:
        """Up to `size` bytes (at most 8 KiB) at `address` in `pid`, or None if unreadable.

        Split at the page boundary into two iovecs, so a string that ends just before an
        unmapped page still comes back: the kernel copies whole iovecs up to the bad one.
        """
        first = min(size, _PAGE - (address & (_PAGE - 1)))
        remote = self._remote
        remote[0].base, remote[0].len = address, first
        remote[1].base, remote[1].len = address + first, size - first
        count = 2 if size > first else 1
        got = int(_process_vm_readv(pid, self._local, 1, remote, count, 0))
        return self._buffer.raw[:got] if got > 0 else None

    def read_c_string(self, pid: int, address: int) -> bytes | None:
        """A NUL-terminated string of at most PATH_MAX bytes, or None.

        Hot: once or twice per traced syscall. Most paths are short, so a first small read
        usually finds the NUL (found by C: string_at, after planting one past the bytes
        read); only a long path pays for the full PATH_MAX read.
        """
        if address == 0:
            return None
        for size in (_FIRST_READ, _PATH_MAX):
            remote = self._remote
            first = min(size, _PAGE - (address & (_PAGE - 1)))
            remote[0].base, remote[0].len = address, first
            remote[1].base, remote[1].len = address + first, size - first
            count = 2 if first < size else 1
            got = _process_vm_readv(pid, self._local, 1, remote, count, 0)
            if got <= 0:
                return None
            self._buffer[got] = b"\0"
            text = _string_at(self._address)
            if len(text) < got:
                return text
            if got < size:
                return None  # the string runs into memory that cannot be read
        return None  # longer than PATH_MAX: the kernel will refuse it too
