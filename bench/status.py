"""`roar status` on a 1,000-job project with a warm hash cache, against `roar --help`.

Issue target: <= 1 s. Every current job's inputs are re-checked on disk through the hash
cache, so this measures stat + cache lookup + the downstream walk, not hashing. Jobs form
chains of 10 (each reads one data file and the previous job's output); every job is its
own step, so all 1,000 are "current" and checked.

Run: `.venv/bin/python bench/status.py [--quick]` (SQLite only). Exit 0 when the target
is met, 1 when not, 2 when the answer is wrong (a stale job reported, or a changed input
missed). `bench/lineage.py` runs the same case on SQLite and PostgreSQL side by side.
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


class WrongAnswer(Exception):
    """`roar status` reported the wrong jobs."""


def build(root: Path, jobs: int, url: str | None = None) -> None:
    """`jobs` jobs in chains of 10; job k reads data/k.txt and the previous output.

    With `url`, the project's store is that database instead of .roar/roar.db.
    """
    data = root / "data"
    data.mkdir(parents=True)
    if url is not None:
        (root / ".roar").mkdir()
        (root / ".roar" / "config.toml").write_text(f'[store]\nurl = "{url}"\n')
    for k in range(jobs):
        (data / f"{k}.txt").write_text(f"input {k}\n")
        (data / f"out{k}.txt").write_text(f"output {k}\n")
    time.sleep(2.1)  # older than the hash cache's racy window, so hashes get cached
    project = init_project(root, nested=True).project
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


def measure(root: Path, runs: int = 5) -> float:
    """Median seconds of `roar status --json` on a built project; then checks its answers.

    Leaves data/5.txt changed (so steps 5-9 stale): run it once per project.
    """
    timed(["status", "--json"], root)  # warm-up
    times = [timed(["status", "--json"], root) for _ in range(runs)]
    if any(json.loads(out) != [] for _, out in times):
        raise WrongAnswer("a fresh project reported stale jobs")
    (root / "data" / "5.txt").write_text("changed\n")
    stale = {row["step"] for row in json.loads(timed(["status", "--json"], root)[1])}
    if stale != {f"step{k}" for k in range(5, 10)}:
        raise WrongAnswer(f"expected step5..step9 stale, got {sorted(stale)}")
    return statistics.median(t for t, _ in times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 jobs instead of 1,000")
    jobs = 100 if parser.parse_args().quick else 1000
    root = Path(tempfile.mkdtemp(prefix="roar-bench-status-"))
    try:
        build(root, jobs)
        try:
            median = measure(root)
        except WrongAnswer as exc:
            print(f"wrong: {exc}", file=sys.stderr)
            return 2
        base = statistics.median(timed(["--help"], root)[0] for _ in range(5))
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
