"""The strace line parser on hand-written lines (the real-strace suite is tests/trace)."""

from __future__ import annotations

import os

from hypothesis import given
from hypothesis import strategies as st

from roar.trace.model import AccessLog
from roar.trace.strace_parse import StraceParser, split_call, unescape


def parse(*lines: str, cwd: str = "/w") -> tuple[AccessLog, StraceParser]:
    log = AccessLog()
    parser = StraceParser(log, cwd)
    for line in lines:
        parser.feed(line + "\n")
    return log, parser


def states(log: AccessLog) -> dict[str, tuple[bool, bool, bool]]:
    return {p: (s.read, s.write_intent, s.deleted) for p, s in log.paths.items()}


def test_unescape() -> None:
    assert unescape(r"a\nb\tc\"d\\e\351\x41\76") == b'a\nb\tc"d\\e\xe9A>'


@given(st.binary(max_size=30))
def test_unescape_inverts_c_escaping(raw: bytes) -> None:
    escaped = "".join(f"\\{b:03o}" if b < 32 or b > 126 or b in b'"\\<>' else chr(b) for b in raw)
    assert unescape(escaped) == raw


def test_split_call_respects_strings_structs_and_annotations() -> None:
    name, args, tail = split_call(
        'openat2(AT_FDCWD</a,b>, "x, y)", {flags=O_RDONLY|O_CLOEXEC, resolve=0}, 24)'
        " = 3</a,b/x, y)>"
    )  # type: ignore[misc]
    assert name == "openat2"
    assert args == ["AT_FDCWD</a,b>", '"x, y)"', "{flags=O_RDONLY|O_CLOEXEC, resolve=0}", "24"]
    assert tail == " = 3</a,b/x, y)>"


def test_open_flags_classify_reads_and_writes() -> None:
    log, _ = parse(
        '1 openat(AT_FDCWD</w>, "r", O_RDONLY|O_CLOEXEC) = 3</w/r>',
        '1 openat(AT_FDCWD</w>, "w", O_WRONLY|O_CREAT|O_TRUNC, 0666) = 3</w/w>',
        '1 openat(AT_FDCWD</w>, "rw", O_RDWR) = 3</w/rw>',
        '1 openat(AT_FDCWD</w>, ".", O_RDONLY|O_DIRECTORY) = 3</w>',
        '1 openat(AT_FDCWD</w>, ".", O_WRONLY|O_TMPFILE, 0600) = 3</w/#123>(deleted)',
    )
    assert states(log) == {
        "/w/r": (True, False, False),
        "/w/w": (False, True, False),
        "/w/rw": (True, True, False),
    }


def test_unfinished_and_resumed_are_joined_per_pid() -> None:
    log, parser = parse(
        '7 openat(AT_FDCWD</w>, "slow", O_RDONLY <unfinished ...>',
        '8 openat(AT_FDCWD</w>, "fast", O_WRONLY|O_CREAT, 0644) = 4</w/fast>',
        "7 <... openat resumed>) = 3</w/slow>",
    )
    assert states(log) == {"/w/fast": (False, True, False), "/w/slow": (True, False, False)}
    assert parser.unparsed == 0


def test_cwd_from_annotations_chdir_fchdir_and_clone() -> None:
    log, _ = parse(
        '1 chdir("sub") = 0',
        '1 rename("a", "b") = 0',
        "1 clone(child_stack=NULL, flags=SIGCHLD) = 2",
        '2 unlink("b") = 0',
        "1 fchdir(3</elsewhere>) = 0",
        '1 creat("made", 0644) = 4</elsewhere/made>',
        '1 mkdirat(AT_FDCWD</learned>, "d", 0777) = 0',
        '1 link("made", "hard") = 0',
        cwd="/w",
    )
    assert states(log) == {
        "/w/sub/b": (False, True, True),  # renamed into place, then the child removed it
        "/elsewhere/made": (False, True, False),
        "/learned/hard": (False, True, False),
    }


def test_rename_exchange_and_o_tmpfile_linkat() -> None:
    log, _ = parse(
        '1 renameat2(AT_FDCWD</w>, "x", AT_FDCWD</w>, "y", RENAME_EXCHANGE) = 0',
        '1 linkat(3</w/#99>(deleted), "", AT_FDCWD</w>, "final", AT_EMPTY_PATH) = 0',
    )
    assert {p for p, s in log.paths.items() if s.write_intent and not s.deleted} == {
        "/w/x",
        "/w/y",
        "/w/final",
    }


def test_failed_calls_and_noise_are_ignored() -> None:
    log, parser = parse(
        '1 openat(AT_FDCWD</w>, "nope", O_RDONLY) = -1 ENOENT (No such file or directory)',
        "1 +++ exited with 0 +++",
        "garbage without a pid",
        "1 openat(AT_FDCWD</w>, broken",
    )
    assert log.paths == {}
    assert parser.unparsed == 2


def test_paths_with_newlines_and_high_bytes() -> None:
    log, _ = parse(r'1 openat(AT_FDCWD</w>, "caf\351\nx", O_RDONLY) = 3</w/caf\351\nx>')
    assert list(log.paths) == [os.fsdecode(b"/w/caf\xe9\nx")]


def test_execve_is_an_executed_read() -> None:
    log, _ = parse('1 execve("./tool", ["./tool"], 0x7ffd /* 3 vars */) = 0')
    assert log.paths["/w/tool"].executed
