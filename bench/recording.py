"""Recording a rerun: `Store.record_job` for a job that reads the same files every time.

Run as `.venv/bin/python bench/recording.py [--quick]`.

Why: ML jobs read the same dataset run after run. Stored one row per (job, file), every run
inserted its rows at random places in the path and hash indexes, so recording slowed down
as the history grew and the store grew by every file on every run. roar now stores a job's
inputs in groups that reruns share (roar/store/input_groups.py). This measures both side by
side, in one run, on SQLite files in the scratch directory:

- roar: `Store.record_job` on a store made by `roar init` (schema head);
- one row per file: the same records in the layout roar had before (schema revision 0001,
  made by roar's own migration, foreign keys on), written by the statements its
  `record_job` ran: every artifact upserted, then the job, its inputs and its outputs, in
  one transaction.

Each records the same job RUNS times (100; 20 with `--quick`): 5,000 inputs in 50 folders
and 500 outputs, the same paths and contents every time. Between runs the write-ahead log
is folded into the database, untimed, as `roar run`'s background checkpoint does. The table
shows the first run, the median of runs 2-10 and of the last ten, and the store's size at
the end, with the ratio of one row per file to roar. Afterwards the last job's inputs as
roar reads them (the `job_inputs` view) must be exactly the files recorded, or the
benchmark stops with exit 2. There is no target: exit 0 unless a result is wrong.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from alembic import command
from alembic.config import Config
from benchlib import format_table, scratch_parent
from blake3 import blake3

from roar.models import Artifact, FileRef, JobSpec
from roar.project import init_project
from roar.store import Store, parse_store_url, sqlite_url
from roar.store.engine import make_engine, write_transaction
from roar.store.migrate import MIGRATIONS

FOLDERS = 50
Record = Callable[[int], None]


class BenchError(Exception):
    pass


def files(count: int, folder: str, tag: str) -> list[FileRef]:
    return [
        FileRef(
            f"{folder}/d{i % FOLDERS:02d}/f{i:05d}.txt",
            Artifact(blake3(f"{tag}{i}".encode()).hexdigest(), 100 + i % 400),
        )
        for i in range(count)
    ]


def roar_recorder(root: Path, inputs: list[FileRef], outputs: list[FileRef]) -> Record:
    project = init_project(root, nested=True).project

    def record(run: int) -> None:
        with project.open_store(defer_checkpoints=True) as store:
            spec = JobSpec(step="train", command=("python", "train.py"), started_at=float(run))
            store.record_job(spec, inputs, outputs)

    return record


def per_file_recorder(db_path: Path, inputs: list[FileRef], outputs: list[FileRef]) -> Record:
    url = sqlite_url(db_path)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    engine = make_engine(parse_store_url(url).url)
    try:
        with write_transaction(engine) as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0001")
    finally:
        engine.dispose()
    artifacts = sorted(
        {(f.artifact.hash, f.artifact.size, "file", 1.0, "{}") for f in (*inputs, *outputs)}
    )

    def record(run: int) -> None:
        conn = sqlite3.connect(db_path, isolation_level=None)
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT INTO artifacts (hash, size, kind, created_at, meta) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (hash) DO NOTHING",
                artifacts,
            )
            job_id = conn.execute(
                "INSERT INTO jobs (uid, kind, step, command, cwd, started_at, env, host, "
                "trace_coverage) VALUES (?, 'run', 'train', '[]', '.', ?, '{}', '{}', 'full')",
                (f"{run:012x}", float(run)),
            ).lastrowid
            for table, refs in (("job_inputs", inputs), ("job_outputs", outputs)):
                conn.executemany(
                    f"INSERT INTO {table} (job_id, artifact_hash, path) VALUES (?, ?, ?) "
                    "ON CONFLICT DO NOTHING",
                    sorted((job_id, f.artifact.hash, f.path) for f in refs),
                )
            conn.execute("COMMIT")
        finally:
            conn.close()

    return record


def fold_log(db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    finally:
        conn.close()


def measure(record: Record, db_path: Path, runs: int) -> tuple[list[float], int]:
    times = []
    for run in range(runs):
        start = time.perf_counter()
        record(run)
        times.append(time.perf_counter() - start)
        fold_log(db_path)
    return times, db_path.stat().st_size


def check_roar(db_path: Path, inputs: list[FileRef]) -> None:
    with Store.open(sqlite_url(db_path)) as store:
        last = store.list_jobs(1)[0]
        found = [(ref.path, ref.artifact.hash) for ref in store.job_inputs(last.id)]
    expected = sorted((ref.path, ref.artifact.hash) for ref in inputs)
    if found != expected:
        raise BenchError(f"roar's last job holds {len(found)} inputs, not the {len(expected)}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 reruns instead of 100")
    args = parser.parse_args(argv)
    runs = 20 if args.quick else 100
    inputs, outputs = files(5_000, "data", "in"), files(500, "out", "out")
    scratch = Path(tempfile.mkdtemp(prefix="roar-bench-recording-", dir=scratch_parent()))
    try:
        roar_db = scratch / "roar" / ".roar" / "roar.db"
        (scratch / "roar").mkdir()
        roar_times, roar_size = measure(
            roar_recorder(scratch / "roar", inputs, outputs), roar_db, runs
        )
        check_roar(roar_db, inputs)
        old_db = scratch / "per-file.db"
        old_times, old_size = measure(per_file_recorder(old_db, inputs, outputs), old_db, runs)
    except BenchError as exc:
        print(f"recording bench: {exc}", file=sys.stderr)
        return 2
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    def row(label: str, ours: float, theirs: float, unit: str) -> list[str]:
        scale, fmt = (1000, "{:.1f} ms") if unit == "ms" else (1e-6, "{:.1f} MB")
        return [
            label,
            fmt.format(ours * scale),
            fmt.format(theirs * scale),
            f"{theirs / ours:.1f}x",
        ]

    print(
        format_table(
            ["rerun of a job with 5,000 inputs, 500 outputs", "roar", "one row per file", "ratio"],
            [
                row("record_job, first run", roar_times[0], old_times[0], "ms"),
                row(
                    "record_job, runs 2-10 (median)",
                    statistics.median(roar_times[1:10]),
                    statistics.median(old_times[1:10]),
                    "ms",
                ),
                row(
                    f"record_job, runs {runs - 9}-{runs} (median)",
                    statistics.median(roar_times[-10:]),
                    statistics.median(old_times[-10:]),
                    "ms",
                ),
                row(f"store size after {runs} runs", roar_size, old_size, "MB"),
            ],
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
