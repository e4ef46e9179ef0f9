"""File paths as text that any database and terminal accepts, without losing a byte.

POSIX paths are bytes; Python holds undecodable ones as lone surrogates, which neither
SQLite's nor PostgreSQL's text types accept. `to_text` percent-escapes `%` and every byte
that is not valid UTF-8 (the way URIs do), so ordinary paths are stored unchanged and
`from_text(to_text(p)) == p` for every path. `for_display` is for people only.
"""

from __future__ import annotations

import os
import re

__all__ = ["for_display", "from_text", "to_text"]

_ESCAPE = re.compile(rb"%([0-9A-F]{2})")


def to_text(path: str) -> str:
    if path.isascii() and "%" not in path:  # nearly every path: no surrogates, no escapes
        return path
    raw = os.fsencode(path)
    if b"%" not in raw:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            pass
    out: list[str] = []
    position = 0
    while position < len(raw):
        try:
            chunk = raw[position:].decode("utf-8")
        except UnicodeDecodeError as exc:
            good = raw[position : position + exc.start].decode("utf-8")
            out.append(good.replace("%", "%25"))
            out.append("".join(f"%{b:02X}" for b in raw[position + exc.start : position + exc.end]))
            position += exc.end
            continue
        out.append(chunk.replace("%", "%25"))
        break
    return "".join(out)


def from_text(text: str) -> str:
    if "%" not in text:
        return text
    raw = _ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), text.encode("utf-8"))
    return os.fsdecode(raw)


def for_display(path: str) -> str:
    """Printable form: undecodable bytes shown as \\xNN."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")
