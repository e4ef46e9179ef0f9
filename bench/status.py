"""`roar status` on a 1,000-job project with a warm hash cache, against `roar --help`.

Issue target: <= 1 s. Every current job's inputs are re-checked on disk through the hash
cache, so this measures stat + cache lookup + the downstream walk, not hashing. Jobs form
chains of 10 (each reads one data file and the previous job's output); every job is its
own step, so all 1,000 are "current" and checked.

Run: `.venv/bin/python bench/status.py [--quick]`. Exit 0 when the target is met, 1 when
not, 2 when the answer is wrong (a stale job reported, or a changed input missed).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from roar.hashing import Hasher
from roar.models import Artifact, FileRef, JobSpec
from roar.project import init_project

TARGET_S = 1.0
ROAR = str(Path(sys.executable).with_name("roar"))


def build(root: Path, jobs: int) -> None:
    """`jobs` jobs in chains of 10; job k reads data/k.txt and the previous output."""
    data = root / "data"
    data.mkdir()
    for k in range(jobs):
        (data / f"{k}.txt").write_text(f"input {k}\n")
        (data / f"out{k}.txt").write_text(f"output {k}\n")
    time.sleep(2.1)  # older than the hash cache's racy window, so hashes get cached
    project = init_project(root).project
    with project.open_store() as store:
        hasher = Hasher(store)
        for k in range(jobs):
            names = [f"data/{k}.txt", f"data/out{k}.txt"]
            if k % 10:
                names.append(f"data/out{k - 1}.txt")
            digests = {
                n: d
                for n, d in zip(names, hasher.hash_paths([root / n for n in names]), strict=True)
            }
            ins = [
                FileRef(n, Artifact(digests[n].hash, digests[n].size))
                for n in names
                if n != f"data/out{k}.txt"
            ]
            out = FileRef(f"data/out{k}.txt", Artifact(digests[f"data/out{k}.txt"].hash, 9))
            store.record_job(
                JobSpec(step=f"step{k}", exit_code=0, started_at=time.time()), ins, [out]
            )


def timed(args: list[str], cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run([ROAR, *args], cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"roar {' '.join(args)} failed: {proc.stderr.strip()}")
    return elapsed, proc.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 jobs instead of 1,000")
    jobs = 100 if parser.parse_args().quick else 1000
    root = Path(tempfile.mkdtemp(prefix="roar-bench-status-"))
    try:
        build(root, jobs)
        timed(["status", "--json"], root)  # warm-up
        runs = [timed(["status", "--json"], root) for _ in range(5)]
        helps = [timed(["--help"], root)[0] for _ in range(5)]
        if json.loads(runs[-1][1]) != []:
            print("wrong: a fresh project reported stale jobs", file=sys.stderr)
            return 2
        (root / "data" / "5.txt").write_text("changed\n")
        stale = {row["step"] for row in json.loads(timed(["status", "--json"], root)[1])}
        if stale != {f"step{k}" for k in range(5, 10)}:
            print(f"wrong: expected step5..step9 stale, got {sorted(stale)}", file=sys.stderr)
            return 2
        median = statistics.median(t for t, _ in runs)
        base = statistics.median(helps)
        verdict = "PASS" if median <= TARGET_S else "FAIL"
        print("benchmark | roar | roar --help | ratio | target | verdict")
        print(
            f"status, {jobs:,} jobs, warm cache (median of 5) | {median:.3f} s | {base:.3f} s     "
            f"| {median / base:.1f}  | <= {TARGET_S} s | {verdict}"
        )
        return 0 if median <= TARGET_S else 1
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
