"""Incremental parser for `strace -f -qq -y` output, one line at a time (pure).

Rules: join `<unfinished ...>` with `<... NAME resumed>` per pid; unescape C escapes to
bytes, then `os.fsdecode`; take absolute paths from `-y` annotations (`3</abs/path>`,
`AT_FDCWD</cwd>`), and for calls without a dirfd resolve against the pid's cwd, which is
learned from AT_FDCWD annotations, chdir/fchdir, and inherited at clone/fork/vfork.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from roar.trace.model import AccessLog

__all__ = ["StraceParser", "Syscall", "split_call", "unescape"]

_LINE = re.compile(r"(\d+)\s+(.*)")
_RESUMED = re.compile(r"<\.\.\. (\w+) resumed>(.*)")
_UNFINISHED = " <unfinished ...>"
_ESCAPE = re.compile(rb"\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|.)", re.S)
_SIMPLE = {b"n": b"\n", b"t": b"\t", b"r": b"\r", b"v": b"\v", b"f": b"\f", b"a": b"\a",
           b"b": b"\b", b"e": b"\x1b"}  # fmt: skip
_ANNOTATED = re.compile(r"(-?\w+)<(.*)>\Z", re.S)
_RETURN = re.compile(r"\s*=\s*(-?\d+|\?|0x[0-9a-fA-F]+)(?:<(.*?)>)?(?:\s|$)", re.S)
_STRUCT_FLAGS = re.compile(r"flags=([\w|]+)")
_WRITE_FLAGS = ("O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC", "O_APPEND")


def _unescape_one(match: re.Match[bytes]) -> bytes:
    code = match.group(1)
    if code[:1] == b"x" and len(code) == 3:
        return bytes([int(code[1:], 16)])
    if code[:1].isdigit():
        return bytes([int(code, 8) & 0xFF])
    return _SIMPLE.get(code, code)


def unescape(text: str) -> bytes:
    """strace's C-style escapes (\\n, \\t, \\", \\\\, \\351, \\x7f) back to raw bytes."""
    return _ESCAPE.sub(_unescape_one, text.encode("latin-1"))


@dataclass(frozen=True)
class Syscall:
    pid: int
    name: str
    args: list[str]
    ret: str
    ret_path: str | None  # the -y annotation on the return value


def split_call(text: str) -> tuple[str, list[str], str] | None:
    """'name(a, "b,c", {x, y}) = 3</p>' -> ('name', ['a', '"b,c"', '{x, y}'], ' = 3</p>')."""
    open_paren = text.find("(")
    if open_paren <= 0:
        return None
    name = text[:open_paren]
    args: list[str] = []
    depth, start, i, n = 0, open_paren + 1, open_paren + 1, len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif ch == "<":  # a -y annotation: '<' and '>' inside it are escaped as octal
            close = text.find(">", i)
            i = n if close < 0 else close
        elif ch in "([{":
            depth += 1
        elif ch in "}]":
            depth -= 1
        elif ch == ")":
            if depth == 0:
                piece = text[start:i].strip()
                if piece or args:
                    args.append(piece)
                return name, args, text[i + 1 :]
            depth -= 1
        elif ch == "," and depth == 0:
            args.append(text[start:i].strip())
            start = i + 1
        i += 1
    return None


def _string(arg: str) -> bytes | None:
    if not arg.startswith('"'):
        return None
    end = len(arg) - 1
    while end > 0 and arg[end] != '"':
        end -= 1
    return unescape(arg[1:end]) if end > 0 else None


def _annotation(arg: str) -> tuple[str, bytes] | None:
    match = _ANNOTATED.match(arg)
    return (match.group(1), unescape(match.group(2))) if match else None


class StraceParser:
    """Feed it lines; it keeps an AccessLog up to date."""

    def __init__(self, log: AccessLog, cwd: str) -> None:
        self.log = log
        self.root_pid: int | None = None
        self.lines = 0
        self.unparsed = 0
        self._initial_cwd = os.fsencode(cwd)
        self._pending: dict[int, str] = {}
        self._cwd: dict[int, bytes] = {}

    # -- lines -----------------------------------------------------------------------------

    def feed(self, line: str) -> None:
        self.lines += 1
        match = _LINE.match(line.rstrip("\n"))
        if match is None:
            self.unparsed += 1
            return
        pid, rest = int(match.group(1)), match.group(2)
        if self.root_pid is None:
            self.root_pid = pid
        if rest.endswith(_UNFINISHED):
            self._pending[pid] = rest[: -len(_UNFINISHED)]
            return
        if rest.startswith("<..."):
            resumed = _RESUMED.match(rest)
            head = self._pending.pop(pid, None)
            if resumed is None or head is None:
                self.unparsed += 1
                return
            rest = head + resumed.group(2)
        if rest.startswith(("+++", "---")):
            return
        call = self._parse(pid, rest)
        if call is None:
            self.unparsed += 1
            return
        self._apply(call)

    def _parse(self, pid: int, text: str) -> Syscall | None:
        split = split_call(text)
        if split is None:
            return None
        name, args, tail = split
        ret = _RETURN.match(tail)
        if ret is None:
            return None
        ret_path = ret.group(2)
        decoded = os.fsdecode(unescape(ret_path)) if ret_path is not None else None
        return Syscall(pid, name, args, ret.group(1), decoded)

    # -- paths -----------------------------------------------------------------------------

    def _cwd_of(self, pid: int) -> bytes:
        return self._cwd.get(pid, self._initial_cwd)

    def _dirfd_base(self, pid: int, dirfd: str) -> bytes:
        annotated = _annotation(dirfd)
        if annotated is not None:
            if annotated[0] == "AT_FDCWD":
                self._cwd[pid] = annotated[1]
            return annotated[1]
        return self._cwd_of(pid)

    def _resolve(self, pid: int, path: bytes, base: bytes | None = None) -> str:
        if not path.startswith(b"/"):
            path = os.path.join(base if base is not None else self._cwd_of(pid), path)
        return os.fsdecode(os.path.normpath(path))

    def _at(self, call: Syscall, dirfd_index: int, path_index: int) -> str | None:
        raw = _string(call.args[path_index]) if len(call.args) > path_index else None
        if raw is None:
            return None
        base = self._dirfd_base(call.pid, call.args[dirfd_index])
        return self._resolve(call.pid, raw, base)

    def _plain(self, call: Syscall, index: int) -> str | None:
        raw = _string(call.args[index]) if len(call.args) > index else None
        return None if raw is None else self._resolve(call.pid, raw)

    # -- syscalls --------------------------------------------------------------------------

    def _apply(self, call: Syscall) -> None:
        if call.ret.startswith("-"):
            return  # failed (strace -z drops most of these already)
        handler = _HANDLERS.get(call.name)
        if handler is not None and call.args:
            handler(self, call)
        elif call.args:  # still learn the cwd from any AT_FDCWD annotation
            self._dirfd_base(call.pid, call.args[0])

    def _opened(self, call: Syscall, path: str | None, flags: str) -> None:
        parts = set(flags.split("|"))
        if parts & {"O_DIRECTORY", "O_PATH", "O_TMPFILE", "__O_TMPFILE"}:
            return
        target = call.ret_path or path
        if target is None or target.endswith(" (deleted)") or not target.startswith("/"):
            return
        if "O_WRONLY" not in parts:
            self.log.read(target)
        if parts.intersection(_WRITE_FLAGS):
            self.log.write(target)

    def _open(self, call: Syscall) -> None:
        flags = call.args[1] if len(call.args) > 1 else "O_RDONLY"
        self._opened(call, self._plain(call, 0), flags)

    def _openat(self, call: Syscall) -> None:
        flags = call.args[2] if len(call.args) > 2 else "O_RDONLY"
        self._opened(call, self._at(call, 0, 1), flags)

    def _openat2(self, call: Syscall) -> None:
        match = _STRUCT_FLAGS.search(call.args[2]) if len(call.args) > 2 else None
        self._opened(call, self._at(call, 0, 1), match.group(1) if match else "O_RDONLY")

    def _creat(self, call: Syscall) -> None:
        self._opened(call, self._plain(call, 0), "O_WRONLY|O_CREAT|O_TRUNC")

    def _truncate(self, call: Syscall) -> None:
        path = self._plain(call, 0)
        if path is not None:
            self.log.write(path)

    def _rename_paths(self, call: Syscall, old: str | None, new: str | None) -> None:
        if old is None or new is None:
            return
        flags = call.args[4] if call.name == "renameat2" and len(call.args) > 4 else ""
        if "RENAME_EXCHANGE" in flags:
            self.log.exchange(old, new)
        else:
            self.log.rename(old, new)

    def _rename(self, call: Syscall) -> None:
        self._rename_paths(call, self._plain(call, 0), self._plain(call, 1))

    def _renameat(self, call: Syscall) -> None:
        self._rename_paths(call, self._at(call, 0, 1), self._at(call, 2, 3))

    def _link(self, call: Syscall) -> None:
        target = self._plain(call, 1)
        if target is not None:
            self.log.link(target, self._plain(call, 0))

    def _linkat(self, call: Syscall) -> None:
        target = self._at(call, 2, 3)
        if target is not None:
            self.log.link(target, self._at(call, 0, 1))

    def _symlink(self, call: Syscall) -> None:
        target = self._plain(call, 1)
        if target is not None:
            self.log.link(target)

    def _symlinkat(self, call: Syscall) -> None:
        target = self._at(call, 1, 2)
        if target is not None:
            self.log.link(target)

    def _unlink(self, call: Syscall) -> None:
        path = self._plain(call, 0)
        if path is not None:
            self.log.remove(path)

    def _unlinkat(self, call: Syscall) -> None:
        path = self._at(call, 0, 1)
        if path is not None:
            self.log.remove(path)

    def _chdir(self, call: Syscall) -> None:
        path = self._plain(call, 0)
        if path is not None:
            self._cwd[call.pid] = os.fsencode(path)

    def _fchdir(self, call: Syscall) -> None:
        annotated = _annotation(call.args[0])
        if annotated is not None:
            self._cwd[call.pid] = annotated[1]

    def _execve(self, call: Syscall) -> None:
        path = self._plain(call, 0)
        if path is not None:
            self.log.execute(path)

    def _execveat(self, call: Syscall) -> None:
        path = self._at(call, 0, 1)
        if path is not None:
            self.log.execute(path)

    def _clone(self, call: Syscall) -> None:
        if call.ret.isdigit():
            child = int(call.ret)
            self._cwd.setdefault(child, self._cwd_of(call.pid))


_HANDLERS = {
    "open": StraceParser._open,
    "openat": StraceParser._openat,
    "openat2": StraceParser._openat2,
    "creat": StraceParser._creat,
    "truncate": StraceParser._truncate,
    "rename": StraceParser._rename,
    "renameat": StraceParser._renameat,
    "renameat2": StraceParser._renameat,
    "link": StraceParser._link,
    "linkat": StraceParser._linkat,
    "symlink": StraceParser._symlink,
    "symlinkat": StraceParser._symlinkat,
    "unlink": StraceParser._unlink,
    "unlinkat": StraceParser._unlinkat,
    "chdir": StraceParser._chdir,
    "fchdir": StraceParser._fchdir,
    "execve": StraceParser._execve,
    "execveat": StraceParser._execveat,
    "clone": StraceParser._clone,
    "clone3": StraceParser._clone,
    "fork": StraceParser._clone,
    "vfork": StraceParser._clone,
}

#: Syscalls roar asks strace for (`?` lets an architecture lack some, e.g. aarch64).
TRACED_SYSCALLS = tuple(_HANDLERS) + ("mkdir", "mkdirat", "rmdir")
