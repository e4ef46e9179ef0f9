"""BLAKE3 digests of files and trees, and when the hash cache may answer instead."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import blake3
import pytest
from hypothesis import given
from hypothesis import strategies as st

from roar.errors import HashError
from roar.hashing import Hasher, hash_file, tree_digest
from roar.hashing.digest import BIG_FILE_BYTES
from roar.models import HashCacheEntry


class MemoryCache:
    """A HashCache in a dict, to watch what the hasher asks and stores."""

    def __init__(self) -> None:
        self.entries: dict[str, HashCacheEntry] = {}
        self.lookups = 0

    def lookup_hashes(self, paths: Sequence[str]) -> Mapping[str, HashCacheEntry]:
        self.lookups += 1
        return {p: self.entries[p] for p in paths if p in self.entries}

    def store_hashes(self, entries: Sequence[HashCacheEntry]) -> None:
        self.entries.update({e.path: e for e in entries})


def far_future() -> int:
    """A clock an hour ahead: every file looks old enough to cache."""
    import time

    return time.time_ns() + 3600 * 10**9


def test_small_file_matches_reference(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"hello roar")
    assert hash_file(path) == blake3.blake3(b"hello roar").hexdigest()


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.write_bytes(b"")
    assert hash_file(path) == blake3.blake3(b"").hexdigest()


def test_big_file_reports_progress_and_matches_reference(tmp_path: Path) -> None:
    data = os.urandom(BIG_FILE_BYTES) * 3 + b"tail"
    path = tmp_path / "big"
    path.write_bytes(data)
    seen: list[int] = []
    assert hash_file(path, seen.append) == blake3.blake3(data).hexdigest()
    assert sum(seen) == len(data)
    assert len(seen) >= 1


def test_directory_digest_ignores_location_and_order(tmp_path: Path) -> None:
    for root in ("a", "b"):
        (tmp_path / root / "sub").mkdir(parents=True)
        (tmp_path / root / "x.txt").write_text("x")
        (tmp_path / root / "sub" / "y.txt").write_text("y")
    first, second = Hasher().hash_paths([tmp_path / "a", tmp_path / "b"])
    assert first.kind == second.kind == "dir"
    assert first.hash == second.hash
    assert first.size == 2


def test_directory_digest_changes_with_names_content_and_links(tmp_path: Path) -> None:
    tree = tmp_path / "t"
    tree.mkdir()
    (tree / "x").write_text("1")
    hasher = Hasher()
    seen = {hasher.hash_paths([tree])[0].hash}
    (tree / "x").write_text("2")
    seen.add(hasher.hash_paths([tree])[0].hash)
    (tree / "x").rename(tree / "y")
    seen.add(hasher.hash_paths([tree])[0].hash)
    (tree / "link").symlink_to("y")
    seen.add(hasher.hash_paths([tree])[0].hash)
    (tree / "empty").mkdir()
    seen.add(hasher.hash_paths([tree])[0].hash)
    assert len(seen) == 5


def test_symlink_cycles_do_not_loop(tmp_path: Path) -> None:
    tree = tmp_path / "t"
    tree.mkdir()
    (tree / "loop").symlink_to(tree)
    assert Hasher().hash_paths([tree])[0].kind == "dir"


names = st.binary(min_size=1, max_size=12).filter(lambda b: b"/" not in b and b"\0" not in b)
digests = st.text("0123456789abcdef", min_size=64, max_size=64)
entries = st.lists(
    st.tuples(names, st.sampled_from(["file", "dir", "link"]), digests),
    unique_by=lambda e: e[0],
    max_size=8,
)


@given(entries, st.randoms())
def test_tree_digest_is_order_independent(items: list, rnd: object) -> None:  # type: ignore[type-arg]
    shuffled = list(items)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert tree_digest(items) == tree_digest(shuffled)


@given(entries.filter(bool))
def test_tree_digest_sees_every_entry(items: list) -> None:  # type: ignore[type-arg]
    assert tree_digest(items) != tree_digest(items[1:])


def test_non_utf8_and_odd_names(tmp_path: Path) -> None:
    tree = tmp_path / "t"
    tree.mkdir()
    odd = os.fsdecode(b"caf\xe9 with space\nand newline")
    (tree / odd).write_text("x")
    digest = Hasher().hash_paths([tree / odd, tree])
    assert digest[0].hash == blake3.blake3(b"x").hexdigest()


def test_missing_path_is_a_hash_error(tmp_path: Path) -> None:
    with pytest.raises(HashError, match="no such file"):
        Hasher().hash_paths([tmp_path / "nope"])


def test_fifo_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(HashError, match="not a regular file"):
        Hasher().hash_paths([fifo])


def test_unchanged_file_comes_from_the_cache(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"a" * 100)
    cache = MemoryCache()
    hasher = Hasher(cache, clock=far_future)
    first = hasher.hash_paths([path])[0]
    assert not first.cached
    assert str(path) in cache.entries
    cache.entries[str(path)] = cache.entries[str(path)]._replace(hash="f" * 64)
    second = hasher.hash_paths([path])[0]
    assert second.cached
    assert second.hash == "f" * 64  # proof the answer came from the cache, not the file


def test_same_size_rewrite_with_restored_mtime_is_rehashed(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"version-1")
    cache = MemoryCache()
    hasher = Hasher(cache, clock=far_future)
    old = hasher.hash_paths([path])[0]
    st_before = path.stat()
    path.write_bytes(b"version-2")
    os.utime(path, ns=(st_before.st_atime_ns, st_before.st_mtime_ns))  # touch -r
    assert path.stat().st_mtime_ns == st_before.st_mtime_ns
    new = hasher.hash_paths([path])[0]
    assert not new.cached
    assert new.hash == blake3.blake3(b"version-2").hexdigest() != old.hash


def test_recently_changed_files_are_not_cached(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"fresh")
    cache = MemoryCache()
    Hasher(cache).hash_paths([path])  # real clock: the file changed just now
    assert cache.entries == {}


def test_cache_is_asked_once_per_call(tmp_path: Path) -> None:
    paths = []
    for i in range(50):
        paths.append(tmp_path / f"f{i}")
        paths[-1].write_bytes(str(i).encode())
    cache = MemoryCache()
    results = Hasher(cache, clock=far_future).hash_paths(paths)
    assert cache.lookups == 1
    assert [r.hash for r in results] == [
        blake3.blake3(str(i).encode()).hexdigest() for i in range(50)
    ]


def test_files_stated_by_the_caller_are_not_stated_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`roar run`'s classifier already stat'ed every input and output; the hasher takes
    those stats instead of asking the filesystem once more per file."""
    paths = [tmp_path / f"f{i}" for i in range(20)]
    for index, path in enumerate(paths):
        path.write_bytes(b"x" * index)
    stats = {str(p): os.stat(p) for p in paths}
    cache = MemoryCache()
    expected = {str(p): r.hash for p, r in zip(paths, Hasher().hash_paths(paths), strict=True)}

    import roar.hashing.hasher as hasher_module

    def no_stat(path: str) -> os.stat_result:
        raise AssertionError(f"stat({path}) again")

    monkeypatch.setattr(hasher_module, "_stat", no_stat)
    first = Hasher(cache, clock=far_future).hash_stated_files(stats, far_future())
    assert {p: d.hash for p, d in first.items()} == expected
    assert not any(d.cached for d in first.values())
    second = Hasher(cache, clock=far_future).hash_stated_files(stats, far_future())
    assert all(d.cached for d in second.values())  # and the cache was filled and used
    racy = MemoryCache()
    Hasher(racy).hash_stated_files(stats, time.time_ns())  # changed just now: not cached
    assert racy.entries == {}


@pytest.mark.parametrize("pool_min_bytes", [0, 1 << 40], ids=["pool", "one-thread"])
def test_many_small_files_hash_the_same_on_a_pool_and_on_one_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pool_min_bytes: int
) -> None:
    from roar.hashing import hasher as hasher_module

    monkeypatch.setattr(hasher_module, "POOL_MIN_BYTES", pool_min_bytes)
    paths = []
    for index in range(50):
        path = tmp_path / f"f{index}.bin"
        path.write_bytes(os.urandom(index * 7))
        paths.append(path)
    digests = Hasher().hash_paths(paths)
    assert [d.hash for d in digests] == [blake3.blake3(p.read_bytes()).hexdigest() for p in paths]
