"""Hashing big inputs while the command runs: only what the hash cache's rules allow."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from roar.hashing import hash_file
from roar.models import HashCacheEntry
from roar.run.early import EarlyHasher, LayeredCache
from roar.run.tail import Tails

MIB = 1 << 20


def big_file(path: Path, size: int = 5 * MIB) -> Path:
    path.write_bytes(os.urandom(size))
    return path


def finished(hasher: EarlyHasher) -> dict[str, HashCacheEntry]:
    hasher.drain()
    return hasher.finish()


class FakeCache:
    def __init__(self, entries: Mapping[str, HashCacheEntry] = {}) -> None:  # noqa: B006
        self.entries = dict(entries)
        self.opened = 0
        self.closed = 0
        self.stored: list[HashCacheEntry] = []

    def lookup_hashes(self, paths: Sequence[str]) -> Mapping[str, HashCacheEntry]:
        return {p: self.entries[p] for p in paths if p in self.entries}

    def store_hashes(self, entries: Sequence[HashCacheEntry]) -> None:
        self.stored.extend(entries)

    def close(self) -> None:
        self.closed += 1


def early(cache: FakeCache | None = None, *, racy: int = 0, accept: bool = True) -> EarlyHasher:
    def open_cache() -> FakeCache:
        assert cache is not None
        cache.opened += 1
        return cache

    return EarlyHasher(
        lambda: lambda _path, _is_output: accept,
        open_cache if cache is not None else None,
        racy_window_ns=racy,
        recheck_s=0.02,
    )


def wait_for(hasher: EarlyHasher, path: Path, timeout: float = 20.0) -> HashCacheEntry | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        entry = hasher.digests().get(str(path))
        if entry is not None:
            return entry
        time.sleep(0.02)
    return None


def test_a_big_input_gets_the_digest_and_stat_the_end_would_trust(tmp_path: Path) -> None:
    data = big_file(tmp_path / "data.bin")
    hasher = early()
    hasher.opened([str(data)])
    entries = finished(hasher)
    st = os.stat(data)
    assert entries == {
        str(data): HashCacheEntry(
            str(data), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns,
            hash_file(data),
        )
    }  # fmt: skip


def test_small_rejected_and_racy_files_wait_for_the_end(tmp_path: Path) -> None:
    small = tmp_path / "small.bin"
    small.write_bytes(b"x" * 1000)
    fresh = big_file(tmp_path / "fresh.bin")
    hasher = early(racy=60 * 10**9)  # fresh.bin changed within the last minute
    hasher.opened([str(small), str(fresh)])
    assert finished(hasher) == {}
    rejected = early(accept=False)
    rejected.opened([str(fresh)])
    assert finished(rejected) == {}


def test_the_cache_is_asked_first_and_opened_only_for_an_input(tmp_path: Path) -> None:
    small = tmp_path / "small.bin"
    small.write_bytes(b"x")
    cache = FakeCache()
    hasher = early(cache)
    hasher.opened([], [str(small)])  # an output is hashed at the end, or once it rests
    assert finished(hasher) == {}
    assert (cache.opened, cache.closed) == (0, 0)

    data = big_file(tmp_path / "data.bin")
    st = os.stat(data)
    known = HashCacheEntry(
        str(data), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, "k" * 64
    )
    cache = FakeCache({str(data): known})
    hasher = early(cache)
    hasher.opened([str(data)])
    assert finished(hasher) == {}  # the cache answers at the end
    assert (cache.opened, cache.closed) == (1, 1)


def test_small_inputs_are_looked_up_in_one_query_per_message(tmp_path: Path) -> None:
    """Small inputs are hashed at the end if at all, but the cache is asked about them as
    they come: the end then asks the store only about the rest."""
    paths = []
    for i in range(5):
        path = tmp_path / f"in{i}.txt"
        path.write_text(str(i))
        paths.append(str(path))
    entries = {p: HashCacheEntry(p, 1, i, 1, 1, 1, f"{i}" * 64) for i, p in enumerate(paths[:3])}
    queries: list[list[str]] = []

    class CountingCache(FakeCache):
        def lookup_hashes(self, paths: Sequence[str]) -> Mapping[str, HashCacheEntry]:
            queries.append(list(paths))
            return super().lookup_hashes(paths)

    cache = CountingCache(entries)
    hasher = early(cache)
    hasher.opened(paths[:4])
    gone = str(tmp_path / "gone.txt")
    hasher.opened([paths[4], gone])
    assert finished(hasher) == {}  # nothing hashed
    assert hasher.known() == entries  # what the store knows, whether it still matches or not
    assert queries == [paths[:4], [paths[4], gone]]  # one query per message
    assert (cache.opened, cache.closed) == (1, 1)
    rejected = early(CountingCache(entries), accept=False)
    rejected.opened(paths)
    finished(rejected)
    assert rejected.known() == {}


def test_only_inputs_the_cache_does_not_know_as_small_are_looked_at(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job that reads thousands of small files it read before costs the run no stat each:
    the end's stat checks the cache's entry. A big one the cache knows is still looked at
    (it may have changed, and then it is hashed now), and so is every file it does not know."""
    small_known = tmp_path / "small_known.txt"
    small_known.write_text("k")
    small_new = tmp_path / "small_new.txt"
    small_new.write_text("n")
    big_known = big_file(tmp_path / "big_known.bin")
    big_changed = big_file(tmp_path / "big_changed.bin")

    def entry(path: Path, digest: str) -> HashCacheEntry:
        st = os.stat(path)
        return HashCacheEntry(
            str(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, digest
        )

    stale = entry(big_changed, "c" * 64)._replace(mtime_ns=1)  # the file changed since
    cache = FakeCache(
        {
            str(small_known): entry(small_known, "s" * 64),
            str(big_known): entry(big_known, "b" * 64),
            str(big_changed): stale,
        }
    )
    looked_at: list[str] = []
    real_stat = os.stat

    def spy(path: str, *args: object, **kwargs: object) -> os.stat_result:
        if str(path).startswith(str(tmp_path)):
            looked_at.append(str(path))
        return real_stat(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "stat", spy)
    hasher = early(cache)
    hasher.opened([str(small_known), str(small_new), str(big_known), str(big_changed)])
    digests = finished(hasher)
    assert list(digests) == [str(big_changed)]
    assert digests[str(big_changed)].hash == hash_file(big_changed)
    assert str(small_known) not in looked_at
    assert {str(small_new), str(big_known), str(big_changed)} <= set(looked_at)
    assert set(hasher.known()) == {str(small_known), str(big_known), str(big_changed)}


def test_layered_cache_answers_from_known_entries_without_asking_below() -> None:
    below = FakeCache({"/b": HashCacheEntry("/b", 1, 1, 1, 1, 1, "b" * 64)})
    asked: list[list[str]] = []
    real = below.lookup_hashes

    def spy(paths: Sequence[str]) -> Mapping[str, HashCacheEntry]:
        asked.append(list(paths))
        return real(paths)

    below.lookup_hashes = spy  # type: ignore[method-assign]
    mine = HashCacheEntry("/a", 1, 1, 1, 1, 1, "e" * 64)
    known = HashCacheEntry("/k", 1, 1, 1, 1, 1, "k" * 64)
    layered = LayeredCache({"/a": mine}, below, {"/k": known, "/a": known})
    found = layered.lookup_hashes(["/a", "/k", "/b", "/x"])
    assert found == {"/a": mine, "/k": known, "/b": below.entries["/b"]}  # early digests first
    assert asked == [["/b", "/x"]]


def test_a_file_that_changes_while_it_is_read_is_not_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = big_file(tmp_path / "data.bin")
    digest = EarlyHasher._digest

    def digest_then_append(self: EarlyHasher, path: str) -> str | None:
        result = digest(self, path)
        with open(path, "ab") as handle:
            handle.write(b"more")
        return result

    monkeypatch.setattr(EarlyHasher, "_digest", digest_then_append)
    hasher = early()
    hasher.opened([str(data)])
    assert finished(hasher) == {}


def test_paths_are_keyed_with_their_directories_resolved(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    data = big_file(real / "data.bin")
    (tmp_path / "link").symlink_to(real)
    hasher = early()
    hasher.opened([str(tmp_path / "link" / "data.bin"), str(tmp_path / "real" / "." / "data.bin")])
    assert list(finished(hasher)) == [str(data)]


def test_finishing_cuts_work_short_and_never_returns_a_wrong_digest(tmp_path: Path) -> None:
    files = [big_file(tmp_path / f"d{i}.bin", 8 * MIB) for i in range(6)]
    hasher = early()
    hasher.opened([str(f) for f in files])
    time.sleep(0.01)
    entries = hasher.finish()  # no drain: whatever was under way is dropped
    for path, entry in entries.items():
        assert entry.hash == hash_file(path)


def test_layered_cache_answers_from_early_digests_first() -> None:
    below = FakeCache({"/a": HashCacheEntry("/a", 1, 1, 1, 1, 1, "b" * 64)})
    mine = HashCacheEntry("/a", 1, 1, 1, 1, 1, "e" * 64)
    other = HashCacheEntry("/c", 1, 2, 1, 1, 1, "c" * 64)
    layered = LayeredCache({"/a": mine}, below)
    assert layered.lookup_hashes(["/a", "/b"]) == {"/a": mine}
    layered.store_hashes([other])
    assert below.stored == [other]


def test_an_output_left_alone_past_the_racy_window_is_hashed(tmp_path: Path) -> None:
    out = big_file(tmp_path / "model.bin")
    hasher = early(racy=200_000_000)  # 0.2 s
    hasher.opened([], [str(out)])
    entry = wait_for(hasher, out)
    hasher.finish()
    assert entry is not None
    assert entry.hash == hash_file(out)
    assert time.time_ns() - max(os.stat(out).st_mtime_ns, os.stat(out).st_ctime_ns) > 200_000_000


def test_an_output_still_being_written_is_hashed_only_once_it_rests(tmp_path: Path) -> None:
    out = tmp_path / "log.bin"
    out.write_bytes(os.urandom(5 * MIB))
    hasher = early(racy=300_000_000)  # 0.3 s
    hasher.opened([], [str(out)])
    for _ in range(8):  # 0.8 s of appends, each within the window of the one before
        time.sleep(0.1)
        with out.open("ab") as handle:
            handle.write(os.urandom(1000))
        assert str(out) not in hasher.digests()
    entry = wait_for(hasher, out)
    hasher.finish()
    assert entry is not None
    assert entry.hash == hash_file(out)
    assert entry.size == os.stat(out).st_size


def test_small_deleted_and_rejected_outputs_are_let_go(tmp_path: Path) -> None:
    small = tmp_path / "small.bin"
    small.write_bytes(b"x" * 100)
    gone = big_file(tmp_path / "gone.bin")
    kept = big_file(tmp_path / "kept.bin")
    gone.unlink()
    hasher = early(racy=100_000_000)
    hasher.opened([], [str(small), str(gone), str(kept)])
    assert wait_for(hasher, kept) is not None
    assert set(hasher.finish()) == {str(kept)}
    rejected = early(racy=0, accept=False)
    rejected.opened([], [str(kept)])
    time.sleep(0.2)
    assert rejected.finish() == {}


def test_an_input_written_just_before_the_run_is_hashed_once_it_rests(tmp_path: Path) -> None:
    data = big_file(tmp_path / "prepared.bin")  # the step before wrote it a moment ago
    hasher = early(racy=1_500_000_000)
    hasher.opened([str(data)])
    hasher.drain()
    assert str(data) not in hasher.digests()  # too fresh to be trusted yet
    entry = wait_for(hasher, data)
    hasher.finish()
    assert entry is not None
    assert entry.hash == hash_file(data)


def tailing_an_output(tmp_path: Path) -> tuple[EarlyHasher, Path]:
    """An early hasher tailing an 8 MiB output its open made."""
    hasher = early(racy=10**12)  # never at rest: the tail is what hashes it
    out = big_file(tmp_path / "out.bin", 8 * MIB)
    hasher.opened([], [str(out)], [(str(out), None)])
    for _ in range(2000):  # naps, not a deadline: a paused machine must not use it up
        if hasher._tails.tailing:
            break
        time.sleep(0.01)
    assert hasher._tails.tailing, "the output was never tailed"
    return hasher, out


def test_abandoning_a_job_leaves_its_tails_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    read_to_the_end: list[bool] = []
    monkeypatch.setattr(Tails, "finish", lambda _self: read_to_the_end.append(True) or [])
    hasher, _out = tailing_an_output(tmp_path)
    hasher.abandon()
    assert read_to_the_end == []
    assert hasher.tailed() == []
    assert not hasher._tails.tailing  # its descriptors closed


def test_the_tails_rest_is_read_while_the_caller_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """finish() hands the tails' rest to a thread at the caller's priority and returns at
    once; tailed() waits for that thread."""
    release = threading.Event()
    priorities: list[int] = []
    finish = Tails.finish

    def held_finish(self: Tails) -> list[object]:
        priorities.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        assert release.wait(30)
        return finish(self)  # type: ignore[return-value]

    monkeypatch.setattr(Tails, "finish", held_finish)
    hasher, out = tailing_an_output(tmp_path)
    assert hasher.finish() == {}  # returned while the rest is still held
    release.set()
    (digest,) = hasher.tailed()
    assert digest.hash == hash_file(out)
    assert priorities == [os.getpriority(os.PRIO_PROCESS, threading.get_native_id())]
