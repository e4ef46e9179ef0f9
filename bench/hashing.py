"""Side-by-side benchmarks of roar's hashing paths and CLI start-up against bare baselines.

Run as `.venv/bin/python bench/hashing.py [--quick]`. It measures, in one run:

1. Big-file throughput: `roar.hashing.hash_file` on a 1 GiB file against a bare
   `blake3(max_threads=AUTO).update_mmap(path)`, page cache warm, rounds interleaved.
   roar feeds blake3 in 64 MiB chunks to report progress; this checks that costs < 10 %.
2. Cached re-hash: 10,000 unchanged small files through `Hasher(store)` after one filling
   pass, against the same files hashed with no cache. This is what every `roar run` pays
   to notice that its inputs did not change, so it must stay well under a second.
3. CLI start-up: `roar --help` and `roar config list` against `python -c pass`, because
   every command pays it and the CLI loads its heavy modules lazily to keep it small.

`--quick` shrinks every size for a smoke run. Exit status: 0 when every target is met,
1 when one is missed, 2 when a result is wrong (digests differ, cache not used, a command
fails). All scratch files live in one temporary directory that is removed at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchlib import finish, format_table, scratch_parent
from blake3 import blake3

from roar.hashing import Hasher, PathDigest, hash_file
from roar.project import init_project
from roar.store import Store

GIB = 1 << 30
MIB = 1 << 20
WRITE_CHUNK = 64 * MIB
RACY_SLEEP_S = 2.1  # the hasher does not cache files changed in the last 2 s
FILES_PER_DIR = 100

HASH_RATIO_TARGET = 0.9
CACHED_REHASH_TARGET_S = 0.3
STARTUP_TARGET_S = 0.15


class BenchError(Exception):
    """A result was wrong, not merely slow: the benchmark itself cannot be trusted."""


@dataclass(frozen=True)
class Sizes:
    file_bytes: int
    hash_rounds: int
    small_files: int
    rehash_rounds: int
    startup_runs: int


FULL = Sizes(file_bytes=GIB, hash_rounds=5, small_files=10_000, rehash_rounds=5, startup_runs=20)
QUICK = Sizes(
    file_bytes=64 * MIB, hash_rounds=3, small_files=1_000, rehash_rounds=3, startup_runs=5
)


@dataclass(frozen=True)
class Row:
    name: str
    roar: str
    baseline: str
    ratio: str
    target: str
    passed: bool


# -- helpers ---------------------------------------------------------------------------------


def _timed(func: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = func()
    return time.perf_counter() - start, result


def _fmt_s(seconds: float) -> str:
    return f"{seconds:.3f} s"


# -- 1. big-file throughput ------------------------------------------------------------------


def _write_random_file(path: Path, size: int) -> None:
    with open(path, "wb") as handle:
        remaining = size
        while remaining:
            chunk = min(WRITE_CHUNK, remaining)
            handle.write(os.urandom(chunk))
            remaining -= chunk


def _warm_page_cache(path: Path) -> None:
    with open(path, "rb", buffering=0) as handle:
        while handle.read(WRITE_CHUNK):
            pass


def _bare_blake3(path: Path) -> str:
    hasher = blake3(max_threads=blake3.AUTO)
    hasher.update_mmap(str(path))
    return str(hasher.hexdigest())


def bench_big_file(scratch: Path, sizes: Sizes) -> Row:
    path = scratch / "big.bin"
    _write_random_file(path, sizes.file_bytes)
    _warm_page_cache(path)
    contenders: dict[str, Callable[[], str]] = {
        "roar": lambda: hash_file(path),
        "bare": lambda: _bare_blake3(path),
    }
    times: dict[str, list[float]] = {name: [] for name in contenders}
    digests: dict[str, set[str]] = {name: set() for name in contenders}
    for round_no in range(sizes.hash_rounds):
        order = list(contenders) if round_no % 2 == 0 else list(reversed(contenders))
        for name in order:
            elapsed, digest = _timed(contenders[name])
            times[name].append(elapsed)
            digests[name].add(str(digest))
    if len(digests["roar"] | digests["bare"]) != 1:
        raise BenchError(f"digests differ: roar {digests['roar']} vs bare {digests['bare']}")
    gib = sizes.file_bytes / GIB
    roar_rate = gib / statistics.median(times["roar"])
    bare_rate = gib / statistics.median(times["bare"])
    ratio = roar_rate / bare_rate
    label = f"{sizes.file_bytes // MIB} MiB" if sizes.file_bytes < GIB else f"{gib:g} GiB"
    return Row(
        name=f"hash {label} file (median of {sizes.hash_rounds})",
        roar=f"{roar_rate:.2f} GiB/s",
        baseline=f"{bare_rate:.2f} GiB/s (bare blake3)",
        ratio=f"{ratio:.2f}",
        target=f"ratio >= {HASH_RATIO_TARGET}",
        passed=ratio >= HASH_RATIO_TARGET,
    )


# -- 2. cached re-hash -----------------------------------------------------------------------


def _write_small_files(root: Path, count: int) -> list[str]:
    paths: list[str] = []
    for index in range(count):
        folder = root / f"d{index // FILES_PER_DIR:04d}"
        if index % FILES_PER_DIR == 0:
            folder.mkdir(parents=True)
        path = folder / f"f{index % FILES_PER_DIR:03d}.bin"
        size = 1024 + int.from_bytes(os.urandom(2), "little") % (3 * 1024 + 1)
        path.write_bytes(os.urandom(size))
        paths.append(str(path))
    return paths


def _timed_passes(
    hasher: Hasher, paths: Sequence[str], rounds: int, *, expect_cached: bool
) -> tuple[float, list[PathDigest]]:
    """Median seconds of `rounds` passes over `paths`, and the last pass's results."""
    times: list[float] = []
    results: list[PathDigest] = []
    for _ in range(rounds):
        start = time.perf_counter()
        results = hasher.hash_paths(paths)
        times.append(time.perf_counter() - start)
        if expect_cached:
            _require_all_cached(results)
    return statistics.median(times), results


def _require_all_cached(results: Sequence[PathDigest]) -> None:
    misses = [r.path for r in results if not r.cached]
    if misses:
        raise BenchError(
            f"{len(misses)} of {len(results)} files missed the cache, e.g. {misses[0]}"
        )


def bench_cached_rehash(project_root: Path, sizes: Sizes) -> Row:
    paths = _write_small_files(project_root / "data", sizes.small_files)
    time.sleep(RACY_SLEEP_S)
    store: Store = init_project(project_root, nested=True).project.open_store()
    try:
        cached = Hasher(store)
        cached.hash_paths(paths)  # fills the cache
        cached_s, cached_results = _timed_passes(
            cached, paths, sizes.rehash_rounds, expect_cached=True
        )
    finally:
        store.close()
    plain_s, plain_results = _timed_passes(
        Hasher(None), paths, sizes.rehash_rounds, expect_cached=False
    )
    if [r.hash for r in cached_results] != [r.hash for r in plain_results]:
        raise BenchError("cached digests differ from freshly computed ones")
    return Row(
        name=f"re-hash {sizes.small_files:,} files (median of {sizes.rehash_rounds})",
        roar=f"{_fmt_s(cached_s)} (cached)",
        baseline=f"{_fmt_s(plain_s)} (no cache)",
        ratio=f"{cached_s / plain_s:.2f}",
        target=f"roar <= {CACHED_REHASH_TARGET_S} s",
        passed=cached_s <= CACHED_REHASH_TARGET_S,
    )


# -- 3. CLI start-up -------------------------------------------------------------------------


def _run_once(argv: Sequence[str], cwd: Path) -> float:
    start = time.perf_counter()
    completed = subprocess.run(
        argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
    )
    elapsed = time.perf_counter() - start
    if completed.returncode != 0:
        stderr = completed.stderr.decode(errors="replace").strip()
        raise BenchError(f"{' '.join(argv)} exited {completed.returncode}: {stderr}")
    return elapsed


def bench_startup(project_root: Path, sizes: Sizes) -> list[Row]:
    roar = str(Path(sys.executable).parent / "roar")
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "roar --help": [roar, "--help"],
        "roar config list": [roar, "config", "list"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for argv in commands.values():  # warm-up: bytecode, page cache; also checks exit codes
        _run_once(argv, project_root)
    for _ in range(sizes.startup_runs):  # interleaved, so drift hits every command alike
        for name, argv in commands.items():
            times[name].append(_run_once(argv, project_root))
    base = statistics.median(times["python -c pass"])
    rows = []
    for name in ("roar --help", "roar config list"):
        median = statistics.median(times[name])
        rows.append(
            Row(
                name=f"start-up: {name} (median of {sizes.startup_runs})",
                roar=_fmt_s(median),
                baseline=f"{_fmt_s(base)} (python -c pass)",
                ratio=f"{median / base:.2f}",
                target=f"roar <= {STARTUP_TARGET_S} s",
                passed=median <= STARTUP_TARGET_S,
            )
        )
    return rows


# -- report ----------------------------------------------------------------------------------


def render(rows: Sequence[Row]) -> str:
    header = ("benchmark", "roar", "baseline", "ratio", "target", "verdict")
    cells = [header] + [
        (r.name, r.roar, r.baseline, r.ratio, r.target, "PASS" if r.passed else "FAIL")
        for r in rows
    ]
    return format_table(header, cells[1:])


def run(sizes: Sizes) -> list[Row]:
    scratch = Path(tempfile.mkdtemp(prefix="roar-bench-", dir=scratch_parent()))
    try:
        rows = [bench_big_file(scratch, sizes)]
        (scratch / "big.bin").unlink()
        project_root = scratch / "project"
        project_root.mkdir()
        rows.append(bench_cached_rehash(project_root, sizes))
        rows.extend(bench_startup(project_root, sizes))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    try:
        rows = run(sizes)
    except BenchError as exc:
        print(f"benchmark error: {exc}", file=sys.stderr)
        return 2
    print(render(rows))
    failed = [r.name for r in rows if not r.passed]
    return finish(failed)


if __name__ == "__main__":
    sys.exit(main())
