"""What a job read or wrote that its tracer cannot see, told by the code that did it.

A checkpoint committed to S3 leaves no file behind for the tracer, and one committed to a
local store is written into a staging folder and renamed into place; in both cases the
checkpoint library knows exactly which bytes it stored and their BLAKE3 (the manifest), so
it tells roar instead. Two listeners:

- `roar run` names a journal file in `JOURNAL_ENV` for its command; every process under
  it appends JSON lines there, and the job reads them when it is recorded.
- `@roar.task` collects the entries noted in its own context (`collecting()`).

Entries: "read" and "write" name stored content by location (an absolute path or a URL),
size and BLAKE3; "internal" names a local directory whose traced reads and writes are the
library's own bookkeeping (a checkpoint store's staging folders, manifests and refs), left
out of the job in favour of the entries.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from roar.child_env import JOURNAL_ENV
from roar.named_tuple import NamedTuple

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Literal

    # for type checkers only (typing is not imported at run time)
    EntryKind = Literal["read", "write", "internal"]

__all__ = ["JOURNAL_ENV", "JournalEntry", "collecting", "note", "read_journal"]


_KINDS: frozenset[str] = frozenset({"read", "write", "internal"})

_collectors: contextvars.ContextVar[tuple[list[JournalEntry], ...]] = contextvars.ContextVar(
    "roar_journal_collectors", default=()
)


class JournalEntry(NamedTuple):
    kind: EntryKind
    location: str
    size: int = 0
    blake3: str = ""

    def to_line(self) -> bytes:
        body: dict[str, str | int] = {"kind": self.kind, "location": self.location}
        if self.kind != "internal":
            body |= {"size": self.size, "blake3": self.blake3}
        return (json.dumps(body, separators=(",", ":")) + "\n").encode("utf-8")

    @classmethod
    def from_line(cls, line: bytes) -> JournalEntry | None:
        """The entry on `line`, or None for a line that is not one (torn by a kill)."""
        try:
            body = json.loads(line)
            kind = body["kind"]
            if kind not in _KINDS or not isinstance(body["location"], str):
                return None
            size, digest = int(body.get("size", 0)), str(body.get("blake3", ""))
            return cls(kind, body["location"], size, digest)
        except (ValueError, TypeError, KeyError):
            return None


def note(entries: Iterable[JournalEntry]) -> None:
    """Tell every listener of this context about `entries`; without one, do nothing.

    The journal file is appended with one `write` per call on an `O_APPEND` descriptor, so
    entries from concurrent processes never interleave within a line. A journal that
    cannot be written costs the lineage, never the caller's checkpoint: errors are dropped.
    """
    batch = list(entries)
    if not batch:
        return
    for collector in _collectors.get():
        collector.extend(batch)
    path = os.environ.get(JOURNAL_ENV)
    if not path:
        return
    data = b"".join(entry.to_line() for entry in batch)
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)


@contextlib.contextmanager
def collecting() -> Iterator[list[JournalEntry]]:
    """Collect the entries noted in this context (and in work started from it with a copy
    of it, like an async checkpoint commit) into the yielded list."""
    found: list[JournalEntry] = []
    token = _collectors.set((*_collectors.get(), found))
    try:
        yield found
    finally:
        _collectors.reset(token)


def read_journal(path: Path) -> list[JournalEntry]:
    """The entries in a journal file; a missing file has none, a torn line is skipped."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    entries = (JournalEntry.from_line(line) for line in data.splitlines() if line.strip())
    return [entry for entry in entries if entry is not None]
