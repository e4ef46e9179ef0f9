"""The lineage journal: what libraries tell a roar job that its tracer cannot see."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from roar.capture.journal import JOURNAL_ENV, JournalEntry, collecting, note, read_journal

ENTRY = JournalEntry("write", "s3://b/p/commits/c_1/files/w.bin", 10, "ab" * 32)


def test_entries_reach_the_journal_file_and_survive_a_torn_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = tmp_path / "j.jsonl"
    monkeypatch.setenv(JOURNAL_ENV, str(journal))
    note([ENTRY, JournalEntry("internal", "/store")])
    with open(journal, "ab") as handle:  # a writer killed mid-line
        handle.write(b'{"kind":"write","location":"/x","si')
    assert read_journal(journal) == [ENTRY, JournalEntry("internal", "/store")]


def test_concurrent_writers_never_interleave_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = tmp_path / "j.jsonl"
    monkeypatch.setenv(JOURNAL_ENV, str(journal))
    entries = [JournalEntry("read", f"/data/{i}/" + "x" * 3000, i, "cd" * 32) for i in range(40)]
    threads = [threading.Thread(target=note, args=([e] * 5,)) for e in entries]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    found = read_journal(journal)
    assert len(found) == 200
    assert set(found) == set(entries)


def test_collectors_nest_and_nothing_is_written_without_a_listener(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(JOURNAL_ENV, raising=False)
    note([ENTRY])  # nobody listens: a no-op
    with collecting() as outer:
        with collecting() as inner:
            note([ENTRY])
        note([JournalEntry("read", "/a", 1, "ef" * 32)])
    assert inner == [ENTRY]
    assert outer == [ENTRY, JournalEntry("read", "/a", 1, "ef" * 32)]
    assert not list(tmp_path.iterdir())


def test_a_missing_journal_has_no_entries(tmp_path: Path) -> None:
    assert read_journal(tmp_path / "absent.jsonl") == []
