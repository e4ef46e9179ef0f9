"""Lineage queries at scale: `roar trace` and `roar log` on 100,000 jobs, SQLite and PostgreSQL.

Run as `.venv/bin/python bench/lineage.py [--quick] [--no-postgres] [--explain]`.

Why: lineage walks are recursive SQL queries (roar/store/graph.py), and a query that is
instant on a 3-job demo can crawl on a real project. This builds one synthetic project per
backend and times what a user waits for. The project (10,000 jobs with `--quick`):

- 2,000 independent chains of 50 jobs; job ids interleave the chains (every chain's step 0,
  then every chain's step 1, ...), as when many pipelines run side by side;
- every job reads its predecessor's model (step 0: the chain's seed file), one file from a
  shared pool of 1,000 data files and its own params file, and writes a model and a metrics
  file: about 300,000 artifacts, 300,000 input rows and 200,000 output rows;
- fan-in: every 50th chain's step 25 also reads the step-24 metrics of 2 or 3 other chains.

Rows are bulk-inserted with executemany through `store.db.write()` into the tables and
columns that `Store.record_job` writes (100,000 record_job calls would take minutes). On
PostgreSQL the load ends with VACUUM ANALYZE, which autovacuum does on any live server;
SQLite gets no ANALYZE, because roar never runs one.

Measured, on both backends (median of several runs after one warm-up, CLI rounds
interleaved across backends so drift hits them alike):

1. upstream trace of the deepest artifact (the last model of a fan-in chain): the walk query
   alone (`store.walk`), `load_lineage` (walk + jobs + files) in-process, and the whole CLI
   `roar trace REF --format json` with REF the full hash and, separately, the path;
2. `roar trace --down` from the seed of a chain that feeds the fan-in (tree output);
3. `roar log -n 20`;
4. `roar status` on a separate 1,000-job project (100 with `--quick`) with a warm hash
   cache, built and checked by bench/status.py, once per backend;
5. `roar --help` start-up: the baseline that the CLI rows are divided by.

Correctness is checked first: the upstream walk must return exactly the jobs of the chain
plus the source chains' steps 0-24, and the downstream walk exactly the seed chain's jobs
plus steps 25-49 of the fan-in chains it feeds, as computed in Python from the generated
records (on both backends, in-process and through the CLI's JSON); else exit 2.

`--explain` (automatic when a target is missed) times every query of one in-process
`roar trace HASH` and prints EXPLAIN QUERY PLAN (SQLite) or EXPLAIN ANALYZE (PostgreSQL) of
both walks and of the two slowest other queries. PostgreSQL is skipped, with a note, under
`--no-postgres` or when its binaries or driver are missing; the throwaway cluster comes from
tests/postgres.py. Exit status: 0 when every target is met, 1 when one is missed, 2 when a
result is wrong. All scratch files live in one temporary directory removed at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import status as status_case
from benchlib import finish, format_table, scratch_parent

from roar.lineage import ArtifactTarget, load_lineage, resolve_ref
from roar.project import Project, init_project
from roar.store import Store
from roar.store.input_groups import bulk_rows
from roar.store.store import JOB_COLUMNS

if TYPE_CHECKING:
    from tests.postgres import PostgresServer

REPO_ROOT = Path(__file__).resolve().parent.parent

DEPTH = 50  # jobs per chain
FANIN_EVERY = 50  # one chain in this many reads other chains' metrics ...
FANIN_STEP = 25  # ... at this step, from their step FANIN_STEP - 1
SEED = 20240601
BASE_TIME = 1_700_000_000.0
ROW_CHUNK = 20_000

WALK_TARGET_MS = 30.0
TRACE_TARGET_S = 0.3
LOG_TARGET_S = 0.2
STATUS_TARGET_S = status_case.TARGET_S

_PACKAGES = (
    "numpy",
    "pandas",
    "torch",
    "scipy",
    "scikit-learn",
    "pyarrow",
    "tqdm",
    "pyyaml",
    "requests",
    "matplotlib",
    "fsspec",
    "filelock",
    "jinja2",
    "networkx",
    "sympy",
)

# What a `roar run` records about its environment, roughly: the same for every job.
ENV: dict[str, Any] = {
    "source_files": ["train.py", "lib/model.py", "lib/data.py"],
    "packages": {name: f"{1 + i % 3}.{i}.{i * 7 % 10}" for i, name in enumerate(_PACKAGES)},
    "python_versions": ["3.11"],
    "roar_python": "3.11.9",
    "variables": {f"VAR_{i:02d}": f"/opt/tool{i}/bin:/usr/local/share/{i}" for i in range(30)},
}
HOST: dict[str, Any] = {
    "hostname": "bench-node-01",
    "os": "Debian GNU/Linux 12",
    "kernel": "6.1.0-18-amd64",
    "machine": "x86_64",
    "cpu": "Bench CPU @ 3.0GHz",
    "cpu_count": 32,
    "memory_bytes": 128 << 30,
    "gpus": [],
}


class BenchError(Exception):
    """A result was wrong, not merely slow: the benchmark itself cannot be trusted."""


@dataclass(frozen=True)
class Sizes:
    chains: int
    pool: int
    walk_runs: int
    cli_runs: int
    status_jobs: int

    @property
    def jobs(self) -> int:
        return self.chains * DEPTH


FULL = Sizes(chains=2_000, pool=1_000, walk_runs=21, cli_runs=7, status_jobs=1_000)
QUICK = Sizes(chains=200, pool=100, walk_runs=11, cli_runs=5, status_jobs=100)


@dataclass
class Dataset:
    """Generated records (job ids are 1..N in list order) and the answers the walks owe."""

    artifacts: list[tuple[str, int]] = field(default_factory=list)  # (hash, size)
    jobs: list[tuple[int, int]] = field(default_factory=list)  # (chain, step)
    inputs: list[tuple[int, str, str]] = field(default_factory=list)  # (job, hash, path)
    outputs: list[tuple[int, str, str]] = field(default_factory=list)
    deep_hash: str = ""
    deep_path: str = ""
    root_hash: str = ""
    expected_up: list[int] = field(default_factory=list)
    expected_down: list[int] = field(default_factory=list)


@dataclass
class Backend:
    name: str  # "sqlite" or "postgresql"
    project: Project
    load_s: float = 0.0


@dataclass(frozen=True)
class Row:
    name: str
    sqlite: str
    postgres: str
    baseline: str
    ratio: str
    target: str
    verdict: str  # PASS, FAIL or "-" (reported, no target)


# -- the synthetic project -------------------------------------------------------------------


def _digest(name: str) -> str:
    return hashlib.blake2b(name.encode(), digest_size=32).hexdigest()


def _closure(
    start: str, step: Callable[[str], Iterable[int]], files: dict[int, list[str]]
) -> set[int]:
    """Jobs reachable from artifact `start`: `step` maps an artifact to its next jobs."""
    found: set[int] = set()
    pending = [start]
    while pending:
        for job_id in step(pending.pop()):
            if job_id not in found:
                found.add(job_id)
                pending.extend(files.get(job_id, []))
    return found


def build_dataset(sizes: Sizes) -> Dataset:
    rng = random.Random(SEED)
    data = Dataset()
    fanin = [c for c in range(sizes.chains) if c % FANIN_EVERY == FANIN_EVERY // 2]
    plain = [c for c in range(sizes.chains) if c % FANIN_EVERY != FANIN_EVERY // 2]
    sources = {c: rng.sample(plain, 3 if i % 2 == 0 else 2) for i, c in enumerate(fanin)}

    def artifact(name: str, low: int, high: int) -> str:
        digest = _digest(name)
        data.artifacts.append((digest, rng.randint(low, high)))
        return digest

    pool = [
        (artifact(f"pool{i}", 1 << 20, 1 << 26), f"data/pool/p{i:04d}.parquet")
        for i in range(sizes.pool)
    ]
    previous = [
        (artifact(f"seed{c}", 1 << 10, 1 << 20), f"chains/c{c:04d}/seed.csv")
        for c in range(sizes.chains)
    ]
    metrics_for_fanin: dict[int, tuple[str, str]] = {}
    for step in range(DEPTH):
        for chain in range(sizes.chains):
            data.jobs.append((chain, step))
            job_id = len(data.jobs)
            folder = f"chains/c{chain:04d}/s{step:02d}"
            reads = [
                previous[chain],
                rng.choice(pool),
                (artifact(f"params{chain}:{step}", 100, 2_000), f"{folder}/params.yaml"),
            ]
            if step == FANIN_STEP and chain in sources:
                reads += [metrics_for_fanin[other] for other in sources[chain]]
            model = (artifact(f"model{chain}:{step}", 1 << 16, 1 << 28), f"{folder}/model.pt")
            metrics = (artifact(f"metrics{chain}:{step}", 200, 5_000), f"{folder}/metrics.json")
            data.inputs += [(job_id, digest, path) for digest, path in reads]
            data.outputs += [(job_id, model[0], model[1]), (job_id, metrics[0], metrics[1])]
            previous[chain] = model
            if step == FANIN_STEP - 1:
                metrics_for_fanin[chain] = metrics

    target = fanin[0]  # 3 source chains: the widest upstream of all the deepest artifacts
    data.deep_hash, data.deep_path = previous[target]
    data.root_hash = _digest(f"seed{sources[target][0]}")

    producer = {digest: job_id for job_id, digest, _ in data.outputs}
    readers: dict[str, list[int]] = {}
    reads_of: dict[int, list[str]] = {}
    writes_of: dict[int, list[str]] = {}
    for job_id, digest, _ in data.inputs:
        readers.setdefault(digest, []).append(job_id)
        reads_of.setdefault(job_id, []).append(digest)
    for job_id, digest, _ in data.outputs:
        writes_of.setdefault(job_id, []).append(digest)
    up = _closure(data.deep_hash, lambda d: [producer[d]] if d in producer else [], reads_of)
    down = _closure(data.root_hash, lambda d: readers.get(d, []), writes_of)
    data.expected_up, data.expected_down = sorted(up), sorted(down)
    fan = len(sources[target])
    if len(up) != DEPTH + fan * FANIN_STEP or not DEPTH < len(down) < sizes.jobs // 10:
        raise BenchError(f"generator bug: upstream {len(up)} jobs, downstream {len(down)}")
    return data


def _job_rows(store: Store, data: Dataset, root: Path) -> Iterator[tuple[Any, ...]]:
    j = store.db.json_param
    env, host = j(ENV), j(HOST)  # identical for every job: one object, not 100,000
    for job_id, (chain, step) in enumerate(data.jobs, start=1):
        started = BASE_TIME + 60.0 * job_id
        values: dict[str, Any] = {
            "uid": _digest(f"job{job_id}")[:12],
            "kind": "run",
            "step": f"step{step:02d}",
            "command": j(["python", "train.py", "--chain", str(chain), "--step", str(step)]),
            "cwd": str(root),
            "started_at": started,
            "ended_at": started + 30.0 + step,
            "exit_code": 0,
            "git_commit": _digest(f"commit{step}")[:40],
            "git_branch": "main",
            "git_dirty": False,
            "env": env,
            "host": host,
            "trace_coverage": "full",
        }
        yield tuple(values.get(column) for column in JOB_COLUMNS[1:])


def _chunked(rows: Iterable[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == ROW_CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def load(store: Store, data: Dataset, root: Path) -> None:
    """Insert the records in one transaction, in the columns `Store.record_job` writes."""
    meta = store.db.json_param({})
    columns = ", ".join(JOB_COLUMNS[1:])
    marks = ", ".join("?" for _ in JOB_COLUMNS[1:])
    with store.db.write() as cur:
        for chunk in _chunked((h, size, "file", BASE_TIME, meta) for h, size in data.artifacts):
            cur.executemany(
                "INSERT INTO artifacts (hash, size, kind, created_at, meta) VALUES (?, ?, ?, ?, ?)",
                chunk,
            )
        for chunk in _chunked(_job_rows(store, data, root)):
            cur.executemany(f"INSERT INTO jobs ({columns}) VALUES ({marks})", chunk)
        for chunk in _chunked(data.outputs):
            cur.executemany(
                "INSERT INTO job_outputs (job_id, artifact_hash, path) VALUES (?, ?, ?)", chunk
            )
        # inputs go into the shared groups that `job_inputs` is a view over
        per_job: dict[int, list[tuple[str, str]]] = {}
        for job_id, digest, path in data.inputs:
            per_job.setdefault(job_id, []).append((path, digest))
        grouped = bulk_rows(per_job, {})
        for statement, rows in (
            ("INSERT INTO input_groups (id, digest, size) VALUES (?, ?, ?)", grouped.groups),
            (
                "INSERT INTO input_group_members (group_id, artifact_hash, path) VALUES (?, ?, ?)",
                grouped.members,
            ),
            ("INSERT INTO job_input_groups (job_id, group_id) VALUES (?, ?)", grouped.links),
        ):
            for chunk in _chunked(rows):
                cur.executemany(statement, chunk)
        if store.db.kind == "postgresql" and grouped.groups:  # ids given: move the sequence on
            cur.execute(
                "SELECT setval(pg_get_serial_sequence('input_groups', 'id'), ?)",
                (len(grouped.groups),),
            )
    with store.db.read() as cur:
        first, last, count = cur.execute("SELECT MIN(id), MAX(id), COUNT(*) FROM jobs").fetchone()
    if (first, last, count) != (1, len(data.jobs), len(data.jobs)):
        raise BenchError(
            f"job ids are {first}..{last} ({count} jobs), expected 1..{len(data.jobs)}"
        )


def make_backend(name: str, root: Path, data: Dataset, url: str | None = None) -> Backend:
    root.mkdir()
    if url is not None:  # before init, so `roar init` and every later `roar` use it
        (root / ".roar").mkdir()
        (root / ".roar" / "config.toml").write_text(f'[store]\nurl = "{url}"\n')
    project = init_project(root, nested=True).project
    start = time.perf_counter()
    with project.open_store() as store:
        load(store, data, root)
    if url is not None:
        _vacuum_analyze(project.store_url().target)
    backend = Backend(name, project, time.perf_counter() - start)
    print(
        f"{name}: loaded {len(data.jobs):,} jobs, {len(data.artifacts):,} artifacts in "
        f"{backend.load_s:.1f} s",
        file=sys.stderr,
    )
    return backend


def _vacuum_analyze(dsn: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


# -- measuring -------------------------------------------------------------------------------


def _median_ms(func: Callable[[], object], runs: int) -> float:
    func()  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def _check(label: str, got: Iterable[int], expected: list[int]) -> None:
    found = sorted(got)
    if found != expected:
        missing = sorted(set(expected) - set(found))[:5]
        extra = sorted(set(found) - set(expected))[:5]
        raise BenchError(
            f"{label}: {len(found)} jobs, expected {len(expected)} "
            f"(missing e.g. {missing}, unexpected e.g. {extra})"
        )


def measure_in_process(backend: Backend, data: Dataset, sizes: Sizes) -> dict[str, float]:
    up_root = [(data.deep_hash, None)]
    down_root = [(data.root_hash, None)]
    with backend.project.open_store() as store:
        _check(f"{backend.name} walk up", store.walk(up_root, "up", None), data.expected_up)
        _check(f"{backend.name} walk down", store.walk(down_root, "down", None), data.expected_down)
        target = ArtifactTarget(store.get_artifact(data.deep_hash))
        graph = load_lineage(store, target, "up", None)
        _check(f"{backend.name} load_lineage up", graph.jobs, data.expected_up)
        return {
            "walk_up": _median_ms(lambda: store.walk(up_root, "up", None), sizes.walk_runs),
            "lineage_up": _median_ms(
                lambda: load_lineage(store, target, "up", None), sizes.walk_runs
            ),
            "walk_down": _median_ms(lambda: store.walk(down_root, "down", None), sizes.walk_runs),
        }


def _cli_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("ROAR_")}


def _run_cli(argv: Sequence[str], cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    completed = subprocess.run(argv, cwd=cwd, capture_output=True, env=_cli_env(), check=False)
    elapsed = time.perf_counter() - start
    if completed.returncode != 0:
        stderr = completed.stderr.decode(errors="replace").strip()
        raise BenchError(f"{' '.join(argv[1:])} exited {completed.returncode}: {stderr}")
    return elapsed, completed.stdout.decode()


def _check_trace_json(label: str, stdout: str, expected: list[int]) -> None:
    try:
        document = json.loads(stdout)
    except json.JSONDecodeError as exc:
        raise BenchError(f"{label}: not JSON ({exc})") from exc
    _check(label, (job["id"] for job in document["jobs"]), expected)


def measure_cli(
    backends: Sequence[Backend], data: Dataset, sizes: Sizes
) -> tuple[dict[tuple[str, str], float], float]:
    """Median seconds per (backend, command), and of `roar --help`; rounds interleaved."""
    roar = str(Path(sys.executable).parent / "roar")
    commands = {
        "trace_hash": [roar, "trace", data.deep_hash, "--format", "json"],
        "trace_path": [roar, "trace", data.deep_path, "--format", "json"],
        "trace_down": [roar, "trace", "--down", data.root_hash],
        "log": [roar, "log", "-n", "20"],
    }
    cwd = backends[0].project.root
    for backend in backends:  # untimed: check what the CLI prints
        where = backend.project.root
        for key in ("trace_hash", "trace_path"):
            _, out = _run_cli(commands[key], where)
            _check_trace_json(f"{backend.name} CLI {key}", out, data.expected_up)
        _, out = _run_cli([roar, "trace", "--down", data.root_hash, "--format", "json"], where)
        _check_trace_json(f"{backend.name} CLI trace --down", out, data.expected_down)
        _, out = _run_cli(commands["log"], where)
        if f"@{len(data.jobs)} " not in out or f"@{len(data.jobs) - 20} " in out:
            raise BenchError(f"{backend.name} roar log -n 20 does not list the newest 20 jobs")
    times: dict[tuple[str, str], list[float]] = {}
    help_times: list[float] = []
    for round_no in range(1 + sizes.cli_runs):  # round 0 is the warm-up
        order = list(backends) if round_no % 2 == 0 else list(reversed(backends))
        help_s, _ = _run_cli([roar, "--help"], cwd)
        if round_no:
            help_times.append(help_s)
        for backend in order:
            for key, argv in commands.items():
                elapsed, _ = _run_cli(argv, backend.project.root)
                if round_no:
                    times.setdefault((backend.name, key), []).append(elapsed)
    medians = {key: statistics.median(values) for key, values in times.items()}
    return medians, statistics.median(help_times)


# -- diagnosis -------------------------------------------------------------------------------


@dataclass
class _Query:
    sql: str
    params: tuple[Any, ...]
    seconds: float = 0.0


class _TimedCursor:
    """Forwards to a store cursor and records each query with the time to its last fetch."""

    def __init__(self, cursor: Any, log: list[_Query]) -> None:
        self._cursor = cursor
        self._log = log
        self._start = 0.0

    def execute(self, sql: str, params: Sequence[Any] = ()) -> _TimedCursor:
        self._start = time.perf_counter()
        self._log.append(_Query(sql, tuple(params)))
        self._cursor.execute(sql, params)
        return self

    def _done(self, value: Any) -> Any:
        self._log[-1].seconds = time.perf_counter() - self._start
        return value

    def fetchone(self) -> Any:
        return self._done(self._cursor.fetchone())

    def fetchall(self) -> list[Any]:
        return list(self._done(self._cursor.fetchall()))

    def scalar(self) -> Any:
        return self._done(self._cursor.scalar())

    @property
    def rowcount(self) -> int:
        return int(self._cursor.rowcount)


@contextlib.contextmanager
def _recording(store: Store) -> Iterator[list[_Query]]:
    log: list[_Query] = []
    original = store.db.read

    @contextlib.contextmanager
    def read() -> Iterator[_TimedCursor]:
        with original() as cursor:
            yield _TimedCursor(cursor, log)

    store.db.read = read  # type: ignore[method-assign, assignment]
    try:
        yield log
    finally:
        del store.db.read  # the class's method again


def _one_line(sql: str, width: int = 110) -> str:
    text = " ".join(sql.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _plan(store: Store, query: _Query) -> list[str]:
    """EXPLAIN QUERY PLAN (SQLite, as a tree) or EXPLAIN ANALYZE (PostgreSQL) of a query."""
    sqlite = store.db.kind == "sqlite"
    prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ANALYZE "
    with store.db.read() as cur:
        plan = cur.execute(prefix + query.sql, query.params).fetchall()
    if not sqlite:
        return ["   " + str(row[0]) for row in plan]
    lines = []
    depth: dict[int, int] = {0: 0}
    for node, parent, _unused, detail in plan:
        depth[node] = depth.get(parent, 0) + 1
        lines.append("   " + "  " * depth[node] + str(detail))
    return lines


def explain(backend: Backend, data: Dataset) -> list[str]:
    """Every query of one in-process `roar trace HASH`, slowest first, and the plans of both
    walks and of the two slowest other queries."""
    root = backend.project.root
    name = backend.name
    lines = [f"== {name}: queries of one `roar trace HASH` (in-process), slowest first"]
    with backend.project.open_store() as store:
        resolve_ref(store, data.deep_hash, project_root=root, cwd=root)  # warm
        with _recording(store) as log:
            target = resolve_ref(store, data.deep_hash, project_root=root, cwd=root)
            load_lineage(store, target, "up", None)
        with _recording(store) as down_log:
            store.walk([(data.root_hash, None)], "down", None)
        slowest = sorted(log, key=lambda q: -q.seconds)
        lines.append(f"   {len(log)} queries, {sum(q.seconds for q in log) * 1000:.1f} ms in all")
        lines += [f"   {q.seconds * 1000:7.1f} ms  {_one_line(q.sql)}" for q in slowest]
        walk_up = next(q for q in log if "WITH RECURSIVE" in q.sql)
        walk_down = next(q for q in down_log if "WITH RECURSIVE" in q.sql)
        others = [q for q in slowest if q is not walk_up][:2]
        for label, query in (
            ("the upstream walk", walk_up),
            ("the downstream walk", walk_down),
            *((f"{q.seconds * 1000:.1f} ms: {_one_line(q.sql, 70)}", q) for q in others),
        ):
            lines.append(f"== {name}: plan of {label}")
            lines += _plan(store, query)
    return lines


# -- report ----------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    return "skipped" if value is None else f"{value:.1f} ms"


def _s(value: float | None) -> str:
    return "skipped" if value is None else f"{value:.3f} s"


def _verdict(values: Sequence[float | None], limit: float | None) -> str:
    if limit is None:
        return "-"
    return "PASS" if all(v <= limit for v in values if v is not None) else "FAIL"


def build_rows(
    in_process: dict[str, dict[str, float]],
    cli: dict[tuple[str, str], float],
    help_s: float,
    sizes: Sizes,
) -> list[Row]:
    def get(backend: str, key: str) -> float | None:
        if backend not in in_process:
            return None
        return in_process[backend][key] if key in in_process[backend] else cli[(backend, key)]

    n_walk, n_cli = sizes.walk_runs, sizes.cli_runs
    rows = []
    for key, name, limit in (
        ("walk_up", f"trace up: store.walk query (median of {n_walk})", WALK_TARGET_MS),
        ("lineage_up", f"trace up: load_lineage in-process (median of {n_walk})", None),
        ("walk_down", f"trace down: store.walk query (median of {n_walk})", None),
    ):
        sq, pg = get("sqlite", key), get("postgresql", key)
        rows.append(
            Row(
                name,
                _ms(sq),
                _ms(pg),
                "-",
                "-",
                "-" if limit is None else f"<= {limit:g} ms",
                _verdict([sq, pg], limit),
            )
        )
    for key, name, limit in (
        ("trace_hash", "roar trace HASH --format json", TRACE_TARGET_S),
        ("trace_path", "roar trace PATH --format json", TRACE_TARGET_S),
        ("trace_down", "roar trace --down SEED (tree)", None),
        ("log", "roar log -n 20", LOG_TARGET_S),
        ("status", f"roar status, {sizes.status_jobs:,} jobs, warm cache", STATUS_TARGET_S),
    ):
        sq, pg = get("sqlite", key), get("postgresql", key)
        ratio = " / ".join("-" if v is None else f"{v / help_s:.2f}" for v in (sq, pg))
        rows.append(
            Row(
                f"{name} (median of {n_cli})",
                _s(sq),
                _s(pg),
                f"{help_s:.3f} s",
                ratio,
                "-" if limit is None else f"<= {limit:g} s",
                _verdict([sq, pg], limit),
            )
        )
    rows.append(
        Row(f"roar --help start-up (median of {n_cli})", _s(help_s), "-", "-", "-", "-", "-")
    )
    return rows


def render(rows: Sequence[Row]) -> str:
    header = (
        "benchmark",
        "sqlite",
        "postgres",
        "baseline (roar --help)",
        "ratio sqlite / pg",
        "target",
        "verdict",
    )
    cells = [(r.name, r.sqlite, r.postgres, r.baseline, r.ratio, r.target, r.verdict) for r in rows]
    return format_table(header, cells)


# -- orchestration ---------------------------------------------------------------------------


def _postgres_bindir(skip: bool, notes: list[str]) -> Path | None:
    if skip:
        notes.append("PostgreSQL skipped: --no-postgres")
        return None
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    from tests.postgres import find_pg_bindir

    bindir = find_pg_bindir()
    if bindir is None:
        notes.append("PostgreSQL skipped: no initdb found (install postgresql-15)")
        return None
    try:
        import psycopg  # noqa: F401
    except ImportError:
        notes.append("PostgreSQL skipped: psycopg missing (pip install -e '.[postgres]')")
        return None
    return bindir


def run(sizes: Sizes, *, no_postgres: bool, want_explain: bool) -> tuple[list[Row], list[str]]:
    notes: list[str] = []
    bindir = _postgres_bindir(no_postgres, notes)
    start = time.perf_counter()
    data = build_dataset(sizes)
    print(
        f"generated {len(data.jobs):,} jobs, {len(data.artifacts):,} artifacts, "
        f"{len(data.inputs):,} inputs, {len(data.outputs):,} outputs in "
        f"{time.perf_counter() - start:.1f} s; upstream of the deepest artifact: "
        f"{len(data.expected_up)} jobs, downstream of the seed: {len(data.expected_down)} jobs",
        file=sys.stderr,
    )
    scratch = Path(tempfile.mkdtemp(prefix="roar-bench-lineage-", dir=scratch_parent()))
    try:
        with contextlib.ExitStack() as stack:
            backends = [make_backend("sqlite", scratch / "sqlite", data)]
            if bindir is not None:
                server: PostgresServer = stack.enter_context(_postgres(bindir))
                server.admin("CREATE DATABASE roar_bench")
                url = server.url("roar_bench")
                backends.append(make_backend("postgresql", scratch / "pg", data, url))
            in_process = {b.name: measure_in_process(b, data, sizes) for b in backends}
            cli, help_s = measure_cli(backends, data, sizes)
            for backend in backends:
                url = None if backend.name == "sqlite" else server.url("roar_status")
                if url is not None:
                    server.admin("CREATE DATABASE roar_status")
                cli[(backend.name, "status")] = measure_status(scratch / "status", sizes, url)
            rows = build_rows(in_process, cli, help_s, sizes)
            if want_explain or any(r.verdict == "FAIL" for r in rows):
                for backend in backends:
                    notes += explain(backend, data)
            notes += [f"{b.name}: bulk load took {b.load_s:.1f} s" for b in backends]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return rows, notes


def measure_status(scratch: Path, sizes: Sizes, url: str | None) -> float:
    root = scratch / ("sqlite" if url is None else "postgresql")
    status_case.build(root, sizes.status_jobs, url)
    try:
        return status_case.measure(root, sizes.cli_runs)
    except status_case.WrongAnswer as exc:
        raise BenchError(f"roar status on {root.name}: {exc}") from exc


def _postgres(bindir: Path) -> contextlib.AbstractContextManager[PostgresServer]:
    from tests.postgres import running_postgres

    return running_postgres(bindir)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 jobs instead of 100,000")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument(
        "--explain", action="store_true", help="profile the trace's queries and print plans"
    )
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    try:
        rows, notes = run(sizes, no_postgres=args.no_postgres, want_explain=args.explain)
    except BenchError as exc:
        print(f"benchmark error: {exc}", file=sys.stderr)
        return 2
    print(render(rows))
    if notes:
        print("\n" + "\n".join(notes))
    failed = [r.name for r in rows if r.verdict == "FAIL"]
    return finish(failed)


if __name__ == "__main__":
    sys.exit(main())
