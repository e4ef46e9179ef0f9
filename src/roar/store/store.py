"""The Store: every read and write of roar's records goes through these methods.

Jobs, their files and the lineage queries over them live here; the hash cache's table
(hash_cache.py) and what users add to the records (annotations.py) are parts of the same
class, kept in files of their own."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from roar.child_env import PARENT_UID_ENV, new_job_uid
from roar.errors import RecordNotFound, SchemaMissing, StoreError
from roar.models import Artifact, FileRef, Job, JobSpec
from roar.pathtext import from_text, to_text
from roar.store.annotations import Annotations
from roar.store.db import Database, connect
from roar.store.errors import IntegrityViolation
from roar.store.graph import NO_LIMIT, walk_jobs
from roar.store.hash_cache import HashCacheRows
from roar.store.input_groups import cut_groups, plan_inputs, store_inputs
from roar.store.migrate import check_schema, upgrade
from roar.store.rows import ARTIFACT_COLUMNS, artifact_from_row, chunks, marks, put_artifacts
from roar.store.url import StoreUrl, parse_store_url

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Any

    from roar.store.graph import Direction

__all__ = ["PARENT_UID_ENV", "Store", "new_job_uid"]


_UID_ATTEMPTS = 5
# Children are recorded after their parent started; this covers clocks read a little apart.
_CLOCK_SLACK_S = 1.0

JOB_COLUMNS = (
    "id",
    "uid",
    "kind",
    "step",
    "command",
    "cwd",
    "started_at",
    "ended_at",
    "exit_code",
    "git_commit",
    "git_branch",
    "git_dirty",
    "git_remote",
    "patch_hash",
    "env",
    "host",
    "trace_coverage",
    "parent_job",
    "reproduces_job",
    "owner",
    "notes",
)
_JOB_SELECT = f"SELECT {', '.join(JOB_COLUMNS)} FROM jobs"
_JOB_INSERT = (
    f"INSERT INTO jobs ({', '.join(JOB_COLUMNS[1:])}) "
    f"VALUES ({', '.join('?' for _ in JOB_COLUMNS[1:])})"
)
_JSON_COLUMNS = {"command", "env", "host"}


def _pairs(refs: Iterable[FileRef]) -> dict[tuple[str, str], Artifact]:
    """{(path as stored, hash): artifact} of these files: what input groups are cut from."""
    return {(to_text(ref.path), ref.artifact.hash): ref.artifact for ref in refs}


class Store(HashCacheRows, Annotations):
    """roar's records in one SQL database (SQLite file or PostgreSQL)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.location = db.location

    @classmethod
    def open(
        cls, url: str | StoreUrl, *, create: bool = False, defer_checkpoints: bool = False
    ) -> Store:
        """Connect and check the schema; `create=True` migrates (what `roar init` does).

        An older schema is upgraded; a newer or missing one is refused without writing.
        `defer_checkpoints` leaves SQLite's WAL checkpoints to a `BackgroundCheckpoint`
        (store/wal.py), for a caller that runs one while it waits anyway.
        """
        parsed = parse_store_url(url) if isinstance(url, str) else url
        db = connect(parsed, defer_checkpoints=defer_checkpoints)
        try:
            current = check_schema(db) if not create else _is_current(db)
            if not current:
                upgrade(parsed)
        except BaseException:
            db.close()
            raise
        return cls(db)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- conversions -----------------------------------------------------------------------

    def _job(self, row: Sequence[Any]) -> Job:
        values = dict(zip(JOB_COLUMNS, row, strict=True))
        for name in _JSON_COLUMNS:
            values[name] = self.db.json_value(values[name])
        values["command"] = tuple(values["command"])
        if values["git_dirty"] is not None:
            values["git_dirty"] = bool(values["git_dirty"])
        return Job(**values)

    def _job_params(self, spec: JobSpec, uid: str) -> list[Any]:
        j = self.db.json_param
        return [
            uid,
            spec.kind,
            spec.step,
            j(list(spec.command)),
            spec.cwd,
            spec.started_at,
            spec.ended_at,
            spec.exit_code,
            spec.git_commit,
            spec.git_branch,
            spec.git_dirty,
            spec.git_remote,
            spec.patch_hash,
            j(dict(spec.env)),
            j(dict(spec.host)),
            spec.trace_coverage,
            spec.parent_job,
            spec.reproduces_job,
            spec.owner,
            spec.notes,
        ]

    # -- jobs ------------------------------------------------------------------------------

    def record_job(
        self,
        spec: JobSpec,
        inputs: Sequence[FileRef] = (),
        outputs: Sequence[FileRef] = (),
        *,
        uid: str | None = None,
        tags: Sequence[str] = (),
    ) -> Job:
        """Record a job with its inputs, outputs and tags in one transaction: all or nothing.

        `uid` is one the caller drew beforehand (`new_job_uid`) and announced to the job's
        children through PARENT_UID_ENV: jobs recorded since `spec.started_at` that named
        it become this job's children in the same transaction. Should that uid be taken
        (1 in 2**48), the job gets another and still adopts the children that named it.
        """
        announced = uid
        input_pairs = _pairs(inputs)
        groups = cut_groups(input_pairs)
        for attempt in range(_UID_ATTEMPTS):
            uid = announced if attempt == 0 and announced is not None else new_job_uid()
            try:
                with self.db.write() as cur:
                    plan = plan_inputs(cur, input_pairs, groups)
                    put_artifacts(self.db, cur, [*plan.artifacts, *(f.artifact for f in outputs)])
                    job_id = cur.insert_returning_id(_JOB_INSERT, self._job_params(spec, uid))
                    store_inputs(cur, self.db.kind, job_id, plan)
                    self._insert_outputs(cur, job_id, outputs)
                    cur.executemany(
                        "INSERT INTO tags (target, name) VALUES (?, ?) ON CONFLICT DO NOTHING",
                        [(f"job:{uid}", name) for name in sorted(set(tags))],
                    )
                    if announced is not None:
                        self._adopt_children(cur, job_id, announced, spec.started_at)
            except IntegrityViolation:
                if attempt + 1 < _UID_ATTEMPTS and not self._uid_free(uid):
                    continue  # 48-bit uid collision: draw another
                raise
            return self.get_job(job_id)
        raise StoreError("could not allocate a unique job uid")  # pragma: no cover

    def _insert_outputs(self, cur: Any, job_id: int, refs: Sequence[FileRef]) -> None:
        rows = {(to_text(ref.path), ref.artifact.hash) for ref in refs}
        cur.executemany(
            # a file learnt at the end of a task may already be among its recorded outputs
            "INSERT INTO job_outputs (job_id, artifact_hash, path) VALUES (?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            [(job_id, digest, path) for path, digest in sorted(rows)],
        )

    def _adopt_children(self, cur: Any, job_id: int, uid: str, since: float) -> None:
        # The uid sits in the children's env JSON; JSON operators differ between SQLite
        # and PostgreSQL, so the few candidates (orphans started since) are checked here.
        rows = cur.execute(
            "SELECT id, env FROM jobs WHERE parent_job IS NULL AND started_at >= ? AND id <> ?",
            (since - _CLOCK_SLACK_S, job_id),
        ).fetchall()
        children = [row[0] for row in rows if self.db.json_value(row[1]).get("parent_uid") == uid]
        cur.executemany(
            "UPDATE jobs SET parent_job = ? WHERE id = ?", [(job_id, c) for c in children]
        )

    def finish_job(
        self,
        job_id: int,
        *,
        ended_at: float,
        exit_code: int,
        notes: str | None,
        env: Mapping[str, Any],
        outputs: Sequence[FileRef] = (),
        inputs: Sequence[FileRef] = (),
    ) -> Job:
        """Complete a job recorded unfinished (exit_code NULL): its end, status, final env,
        outputs and any inputs learnt while it ran, in one transaction. A job already
        finished is refused, never rewritten."""
        input_pairs = _pairs(inputs)
        with self.db.write() as cur:
            cur.execute(
                "UPDATE jobs SET ended_at = ?, exit_code = ?, notes = ?, env = ? "
                "WHERE id = ? AND exit_code IS NULL",
                (ended_at, exit_code, notes, self.db.json_param(dict(env)), job_id),
            )
            if cur.rowcount != 1:
                raise RecordNotFound(f"no unfinished job @{job_id} in {self.location}")
            # a file learnt at the end of a task may already be among its recorded inputs
            recorded = {
                (str(path), str(digest))
                for path, digest in cur.execute(
                    "SELECT path, artifact_hash FROM job_inputs WHERE job_id = ?", (job_id,)
                ).fetchall()
            }
            learnt = {pair: a for pair, a in input_pairs.items() if pair not in recorded}
            plan = plan_inputs(cur, learnt, cut_groups(learnt))
            put_artifacts(self.db, cur, [*plan.artifacts, *(f.artifact for f in outputs)])
            self._insert_outputs(cur, job_id, outputs)
            store_inputs(cur, self.db.kind, job_id, plan)
        return self.get_job(job_id)

    def _uid_free(self, uid: str) -> bool:
        with self.db.read() as cur:
            return cur.execute("SELECT 1 FROM jobs WHERE uid = ?", (uid,)).fetchone() is None

    def get_job(self, job_id: int) -> Job:
        with self.db.read() as cur:
            row = cur.execute(f"{_JOB_SELECT} WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise RecordNotFound(f"no job @{job_id} in {self.location}")
        return self._job(row)

    def list_jobs(
        self, limit: int | None = None, *, step: str | None = None, failed: bool = False
    ) -> list[Job]:
        """Newest first; optionally one step's jobs, or only those that did not exit 0."""
        clauses, params = _job_filters(step, failed)
        query = f"{_JOB_SELECT}{clauses} ORDER BY id DESC"
        if limit is not None:
            query, params = f"{query} LIMIT ?", [*params, limit]
        with self.db.read() as cur:
            return [self._job(row) for row in cur.execute(query, params).fetchall()]

    def successful_runs_after(self, step: str, job_id: int) -> list[int]:
        """Ids of the jobs of `step` newer than `job_id` that exited 0, oldest first."""
        with self.db.read() as cur:
            rows = cur.execute(
                "SELECT id FROM jobs WHERE step = ? AND id > ? AND exit_code = 0 ORDER BY id",
                (step, job_id),
            ).fetchall()
        return [int(row[0]) for row in rows]

    def successful_builds_at(self, commit: str) -> list[Job]:
        """Build jobs that exited 0 at `commit`, newest first."""
        query = (
            f"{_JOB_SELECT} WHERE kind = 'build' AND git_commit = ? AND exit_code = 0 "
            "ORDER BY id DESC"
        )
        with self.db.read() as cur:
            return [self._job(row) for row in cur.execute(query, (commit,)).fetchall()]

    def file_counts(self, job_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
        """{job id: (number of inputs, number of outputs)}."""
        counts = {job_id: (0, 0) for job_id in job_ids}
        if not job_ids:
            return counts
        placeholders = marks(len(job_ids))
        with self.db.read() as cur:
            for index, table in enumerate(("job_inputs", "job_outputs")):
                rows = cur.execute(
                    f"SELECT job_id, COUNT(*) FROM {table} WHERE job_id IN ({placeholders}) "
                    "GROUP BY job_id",
                    list(job_ids),
                ).fetchall()
                for job_id, count in rows:
                    pair = list(counts[job_id])
                    pair[index] = int(count)
                    counts[job_id] = (pair[0], pair[1])
        return counts

    def count_jobs(self) -> int:
        with self.db.read() as cur:
            return int(cur.execute("SELECT COUNT(*) FROM jobs").scalar())

    def job_inputs(self, job_id: int) -> list[FileRef]:
        return self._job_files("job_inputs", job_id)

    def job_outputs(self, job_id: int) -> list[FileRef]:
        return self._job_files("job_outputs", job_id)

    def _job_files(self, table: str, job_id: int) -> list[FileRef]:
        query = (
            f"SELECT f.path, {ARTIFACT_COLUMNS} FROM {table} f "
            "JOIN artifacts a ON a.hash = f.artifact_hash WHERE f.job_id = ? ORDER BY f.path"
        )
        with self.db.read() as cur:
            rows = cur.execute(query, (job_id,)).fetchall()
        return [FileRef(from_text(row[0]), artifact_from_row(self.db, row[1:])) for row in rows]

    def jobs_by_ids(self, job_ids: Sequence[int]) -> dict[int, Job]:
        found: dict[int, Job] = {}
        with self.db.read() as cur:
            for chunk in chunks(list(job_ids)):
                rows = cur.execute(
                    f"{_JOB_SELECT} WHERE id IN ({marks(len(chunk))})", chunk
                ).fetchall()
                found.update((row[0], self._job(row)) for row in rows)
        return found

    def files_of_jobs(
        self, job_ids: Sequence[int]
    ) -> tuple[list[tuple[int, FileRef]], list[tuple[int, FileRef]]]:
        """(inputs, outputs) of these jobs as (job id, file) pairs, ordered by job and path."""
        with self.db.read() as cur:
            return (
                self._files_of_jobs(cur, "job_inputs", job_ids),
                self._files_of_jobs(cur, "job_outputs", job_ids),
            )

    def inputs_of_jobs(self, job_ids: Sequence[int]) -> list[tuple[int, FileRef]]:
        """The inputs alone of `files_of_jobs`."""
        with self.db.read() as cur:
            return self._files_of_jobs(cur, "job_inputs", job_ids)

    def _files_of_jobs(
        self, cur: Any, table: str, job_ids: Sequence[int]
    ) -> list[tuple[int, FileRef]]:
        found: list[tuple[int, FileRef]] = []
        for chunk in chunks(list(job_ids)):
            rows = cur.execute(
                f"SELECT f.job_id, f.path, {ARTIFACT_COLUMNS} FROM {table} f "
                "JOIN artifacts a ON a.hash = f.artifact_hash "
                f"WHERE f.job_id IN ({marks(len(chunk))}) ORDER BY f.job_id, f.path",
                chunk,
            ).fetchall()
            found += [
                (row[0], FileRef(from_text(row[1]), artifact_from_row(self.db, row[2:])))
                for row in rows
            ]
        return found

    def walk(
        self,
        roots: Sequence[tuple[str, str | None]],
        direction: Direction,
        depth: int | None,
        bound: int | None = None,
    ) -> list[int]:
        """Jobs upstream ("up") or downstream ("down") of the root artifacts (see graph.py)."""
        return walk_jobs(self.db, roots, direction, depth, bound)

    def jobs_with_uid_prefix(self, prefix: str, limit: int = 10) -> list[Job]:
        """Jobs whose uid starts with the lowercase hex `prefix` (an index range scan)."""
        with self.db.read() as cur:
            rows = cur.execute(
                f"{_JOB_SELECT} WHERE uid >= ? AND uid < ? ORDER BY id LIMIT ?",
                (prefix, _prefix_end(prefix), limit),
            ).fetchall()
        return [self._job(row) for row in rows]

    def artifacts_with_prefix(self, prefix: str, limit: int = 10) -> list[Artifact]:
        """Artifacts whose hash starts with the lowercase hex `prefix` (an index range scan)."""
        with self.db.read() as cur:
            rows = cur.execute(
                f"SELECT {ARTIFACT_COLUMNS} FROM artifacts a WHERE a.hash >= ? AND a.hash < ? "
                "ORDER BY a.hash LIMIT ?",
                (prefix, _prefix_end(prefix), limit),
            ).fetchall()
        return [artifact_from_row(self.db, row) for row in rows]

    def newest_artifact_at(self, path: str) -> Artifact | None:
        """The artifact most recently written at `path` (else most recently read there)."""
        with self.db.read() as cur:
            for table in ("job_outputs", "job_inputs"):
                row = cur.execute(
                    f"SELECT {ARTIFACT_COLUMNS} FROM {table} f "
                    "JOIN artifacts a ON a.hash = f.artifact_hash "
                    "WHERE f.path = ? ORDER BY f.job_id DESC LIMIT 1",
                    (to_text(path),),
                ).fetchone()
                if row is not None:
                    return artifact_from_row(self.db, row)
        return None

    def jobs_touching(self, digest: str) -> tuple[list[int], list[int]]:
        """(ids of jobs that wrote `digest`, ids of jobs that read it), oldest first."""
        found: list[list[int]] = []
        with self.db.read() as cur:
            for table in ("job_outputs", "job_inputs"):
                rows = cur.execute(
                    f"SELECT DISTINCT job_id FROM {table} WHERE artifact_hash = ? ORDER BY job_id",
                    (digest,),
                ).fetchall()
                found.append([int(r[0]) for r in rows])
        return found[0], found[1]

    def produced_hashes(self, digests: Sequence[str], before: int | None = None) -> set[str]:
        """The `digests` that some job (before job `before`, when given) wrote."""
        bound = NO_LIMIT if before is None else before
        found: set[str] = set()
        with self.db.read() as cur:
            for chunk in chunks(sorted(set(digests))):
                rows = cur.execute(
                    "SELECT DISTINCT artifact_hash FROM job_outputs "
                    f"WHERE artifact_hash IN ({marks(len(chunk))}) AND job_id < ?",
                    [*chunk, bound],
                ).fetchall()
                found.update(str(row[0]) for row in rows)
        return found

    def producer_of(self, digest: str, path: str | None, before: int | None) -> int | None:
        """The newest job before `before` that wrote `digest` at `path`, else anywhere
        (the same rule the lineage walks use)."""
        bound = NO_LIMIT if before is None else before
        query = "SELECT MAX(job_id) FROM job_outputs WHERE artifact_hash = ? AND job_id < ?"
        with self.db.read() as cur:
            if path is not None:
                found = cur.execute(query + " AND path = ?", (digest, bound, to_text(path)))
                same_path = found.scalar()
                if same_path is not None:
                    return int(same_path)
            anywhere = cur.execute(query, (digest, bound)).scalar()
        return None if anywhere is None else int(anywhere)

    def paths_of(self, digest: str) -> list[str]:
        with self.db.read() as cur:
            rows = cur.execute(
                "SELECT path FROM job_outputs WHERE artifact_hash = ? UNION "
                "SELECT path FROM job_inputs WHERE artifact_hash = ? ORDER BY 1",
                (digest, digest),
            ).fetchall()
        return [from_text(r[0]) for r in rows]

    # -- artifacts -------------------------------------------------------------------------

    def put_artifacts(self, artifacts: Sequence[Artifact]) -> None:
        with self.db.write() as cur:
            put_artifacts(self.db, cur, artifacts)

    def get_artifact(self, digest: str) -> Artifact:
        with self.db.read() as cur:
            row = cur.execute(
                f"SELECT {ARTIFACT_COLUMNS} FROM artifacts a WHERE a.hash = ?", (digest,)
            ).fetchone()
        if row is None:
            raise RecordNotFound(f"no artifact {digest[:12]} in {self.location}")
        return artifact_from_row(self.db, row)

    # -- health ----------------------------------------------------------------------------

    def integrity_problems(self) -> list[str]:
        """SQLite's own consistency check; empty when the file is sound (PostgreSQL: [])."""
        if self.db.kind != "sqlite":
            return []
        with self.db.read() as cur:
            rows = [str(r[0]) for r in cur.execute("PRAGMA integrity_check").fetchall()]
        return [] if rows == ["ok"] else rows


def _prefix_end(prefix: str) -> str:
    """The smallest string above every string starting with `prefix` (LIKE 'p%' uses no
    index in SQLite, nor in PostgreSQL without text_pattern_ops; a range does)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _job_filters(step: str | None, failed: bool) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if step is not None:
        clauses.append("step = ?")
        params.append(step)
    if failed:
        clauses.append("(exit_code IS NULL OR exit_code <> 0)")
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def _is_current(db: Database) -> bool:
    """For `create`: True when nothing needs migrating (a missing schema needs it)."""
    try:
        return check_schema(db)
    except SchemaMissing:
        return False
