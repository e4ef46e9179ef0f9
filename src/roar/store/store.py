"""The Store: every read and write of roar's records goes through these methods."""

from __future__ import annotations

import functools
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, Engine, Row, Table, delete, func, insert, select, text
from sqlalchemy import exc as sa_exc

from roar.errors import RecordNotFound, StoreError
from roar.models import Artifact, Collection, FileRef, Flag, HashCacheEntry, Job, JobSpec, Tag
from roar.store import schema as t
from roar.store.engine import is_sqlite, make_engine, write_transaction
from roar.store.errors import translate_errors
from roar.store.migrate import ensure_schema, upgrade

__all__ = ["Store"]

F = TypeVar("F", bound=Callable[..., Any])

# Bound parameters per IN (...) query: below SQLite's 32,766 and PostgreSQL's 65,535, and
# large enough that 10,000 cached paths cost two round trips, not twenty.
_CHUNK = 5_000
_UID_ATTEMPTS = 5
_I64 = 1 << 63


def _to_i64(value: int) -> int:
    """Store unsigned 64-bit stat fields (dev, inode) in a signed BIGINT column."""
    return value - (1 << 64) if value >= _I64 else value


def _from_i64(value: int) -> int:
    return value + (1 << 64) if value < 0 else value


def _translated(method: F) -> F:
    """Run a Store method with driver errors turned into roar's StoreError tree."""

    @functools.wraps(method)
    def wrapper(self: Store, *args: Any, **kwargs: Any) -> Any:
        with translate_errors(self.location):
            return method(self, *args, **kwargs)

    return cast(F, wrapper)


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _new_uid() -> str:
    return secrets.token_hex(6)


def _job_from_row(row: Row[Any]) -> Job:
    m = row._mapping
    return Job(
        id=m["id"],
        uid=m["uid"],
        kind=m["kind"],
        step=m["step"],
        command=tuple(m["command"]),
        cwd=m["cwd"],
        started_at=m["started_at"],
        ended_at=m["ended_at"],
        exit_code=m["exit_code"],
        git_commit=m["git_commit"],
        git_branch=m["git_branch"],
        git_dirty=m["git_dirty"],
        git_remote=m["git_remote"],
        patch_hash=m["patch_hash"],
        env=m["env"],
        host=m["host"],
        trace_coverage=m["trace_coverage"],
        parent_job=m["parent_job"],
        reproduces_job=m["reproduces_job"],
        owner=m["owner"],
        notes=m["notes"],
    )


def _artifact_from_row(row: Row[Any]) -> Artifact:
    m = row._mapping
    return Artifact(m["hash"], m["size"], m["kind"], m["created_at"], m["meta"])


def _job_values(spec: JobSpec, uid: str) -> dict[str, Any]:
    return {
        "uid": uid,
        "kind": spec.kind,
        "step": spec.step,
        "command": list(spec.command),
        "cwd": spec.cwd,
        "started_at": spec.started_at,
        "ended_at": spec.ended_at,
        "exit_code": spec.exit_code,
        "git_commit": spec.git_commit,
        "git_branch": spec.git_branch,
        "git_dirty": spec.git_dirty,
        "git_remote": spec.git_remote,
        "patch_hash": spec.patch_hash,
        "env": dict(spec.env),
        "host": dict(spec.host),
        "trace_coverage": spec.trace_coverage,
        "parent_job": spec.parent_job,
        "reproduces_job": spec.reproduces_job,
        "owner": spec.owner,
        "notes": spec.notes,
    }


class Store:
    """roar's records in one SQL database (SQLite file or PostgreSQL)."""

    def __init__(self, engine: Engine, location: str) -> None:
        self.engine = engine
        self.location = location

    @classmethod
    def open(cls, url: str, *, location: str | None = None, create: bool = False) -> Store:
        """Connect and check the schema; `create=True` migrates (what `roar init` does)."""
        where = location or url
        with translate_errors(where):
            engine = make_engine(url)
            try:
                if create:
                    upgrade(engine, where)
                else:
                    ensure_schema(engine, where)
            except BaseException:
                engine.dispose()
                raise
        return cls(engine, where)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- helpers ---------------------------------------------------------------------------

    def _insert_ignoring(self, table: Table) -> Any:
        """INSERT with ON CONFLICT support; each dialect module loads only when used."""
        if is_sqlite(self.engine):
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            return sqlite_insert(table)
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)

    def _put_artifacts(self, conn: Connection, artifacts: Iterable[Artifact]) -> None:
        unique = {a.hash: a for a in artifacts}
        if not unique:
            return
        rows = [
            {
                "hash": a.hash,
                "size": a.size,
                "kind": a.kind,
                "created_at": a.created_at or time.time(),
                "meta": dict(a.meta),
            }
            for a in unique.values()
        ]
        stmt = self._insert_ignoring(t.artifacts).on_conflict_do_nothing(index_elements=["hash"])
        conn.execute(stmt, rows)

    # -- jobs ------------------------------------------------------------------------------

    @_translated
    def record_job(
        self, spec: JobSpec, inputs: Sequence[FileRef] = (), outputs: Sequence[FileRef] = ()
    ) -> Job:
        """Record a job with its inputs and outputs in one transaction: all or nothing."""
        for attempt in range(_UID_ATTEMPTS):
            uid = _new_uid()
            try:
                with write_transaction(self.engine) as conn:
                    self._put_artifacts(conn, [f.artifact for f in (*inputs, *outputs)])
                    job_id = conn.execute(
                        insert(t.jobs).values(_job_values(spec, uid)).returning(t.jobs.c.id)
                    ).scalar_one()
                    for table, refs in ((t.job_inputs, inputs), (t.job_outputs, outputs)):
                        rows = {
                            (ref.path, ref.artifact.hash): {
                                "job_id": job_id,
                                "artifact_hash": ref.artifact.hash,
                                "path": ref.path,
                            }
                            for ref in refs
                        }
                        if rows:
                            conn.execute(insert(table), list(rows.values()))
            except sa_exc.IntegrityError:
                if attempt + 1 < _UID_ATTEMPTS and not self._uid_free(uid):
                    continue  # 48-bit uid collision: draw another
                raise
            return self.get_job(job_id)
        raise StoreError("could not allocate a unique job uid")  # pragma: no cover

    def _uid_free(self, uid: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(t.jobs.c.id).where(t.jobs.c.uid == uid)).first() is None

    @_translated
    def get_job(self, job_id: int) -> Job:
        with self.engine.connect() as conn:
            row = conn.execute(select(t.jobs).where(t.jobs.c.id == job_id)).first()
        if row is None:
            raise RecordNotFound(f"no job @{job_id} in {self.location}")
        return _job_from_row(row)

    @_translated
    def list_jobs(self, limit: int | None = None) -> list[Job]:
        """Newest first."""
        query = select(t.jobs).order_by(t.jobs.c.id.desc())
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return [_job_from_row(row) for row in conn.execute(query)]

    @_translated
    def count_jobs(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(t.jobs)).scalar_one())

    def job_inputs(self, job_id: int) -> list[FileRef]:
        return self._job_files(t.job_inputs, job_id)

    def job_outputs(self, job_id: int) -> list[FileRef]:
        return self._job_files(t.job_outputs, job_id)

    @_translated
    def _job_files(self, table: Table, job_id: int) -> list[FileRef]:
        query = (
            select(table.c.path, t.artifacts)
            .join(t.artifacts, t.artifacts.c.hash == table.c.artifact_hash)
            .where(table.c.job_id == job_id)
            .order_by(table.c.path)
        )
        with self.engine.connect() as conn:
            return [FileRef(row.path, _artifact_from_row(row)) for row in conn.execute(query)]

    # -- artifacts -------------------------------------------------------------------------

    @_translated
    def put_artifacts(self, artifacts: Sequence[Artifact]) -> None:
        with write_transaction(self.engine) as conn:
            self._put_artifacts(conn, artifacts)

    @_translated
    def get_artifact(self, digest: str) -> Artifact:
        with self.engine.connect() as conn:
            row = conn.execute(select(t.artifacts).where(t.artifacts.c.hash == digest)).first()
        if row is None:
            raise RecordNotFound(f"no artifact {digest[:12]} in {self.location}")
        return _artifact_from_row(row)

    # -- hash cache (implements roar.hashing.HashCache) ------------------------------------

    @_translated
    def lookup_hashes(self, paths: Sequence[str]) -> Mapping[str, HashCacheEntry]:
        c = t.hash_cache.c
        columns = (c.path, c.dev, c.inode, c.size, c.mtime_ns, c.ctime_ns, c.hash)
        found: dict[str, HashCacheEntry] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(paths):
                rows = conn.execute(select(*columns).where(c.path.in_(chunk)))
                for path, dev, inode, size, mtime_ns, ctime_ns, digest in rows:
                    found[path] = HashCacheEntry(
                        path, _from_i64(dev), _from_i64(inode), size, mtime_ns, ctime_ns, digest
                    )
        return found

    @_translated
    def store_hashes(self, entries: Sequence[HashCacheEntry]) -> None:
        if not entries:
            return
        rows = [
            {
                "path": e.path,
                "dev": _to_i64(e.dev),
                "inode": _to_i64(e.inode),
                "size": e.size,
                "mtime_ns": e.mtime_ns,
                "ctime_ns": e.ctime_ns,
                "hash": e.hash,
            }
            for e in {e.path: e for e in entries}.values()
        ]
        stmt = self._insert_ignoring(t.hash_cache)
        stmt = stmt.on_conflict_do_update(
            index_elements=["path"],
            set_={name: stmt.excluded[name] for name in rows[0] if name != "path"},
        )
        with write_transaction(self.engine) as conn:
            conn.execute(stmt, rows)

    # -- collections, tags, flags ----------------------------------------------------------

    @_translated
    def add_collection(self, name: str, kind: str, members: Sequence[FileRef]) -> Collection:
        with write_transaction(self.engine) as conn:
            self._put_artifacts(conn, [m.artifact for m in members])
            collection_id = conn.execute(
                insert(t.collections).values(name=name, kind=kind).returning(t.collections.c.id)
            ).scalar_one()
            rows = {
                m.path: {
                    "collection_id": collection_id,
                    "artifact_hash": m.artifact.hash,
                    "path": m.path,
                }
                for m in members
            }
            if rows:
                conn.execute(insert(t.collection_members), list(rows.values()))
        return self.get_collection(name)

    @_translated
    def get_collection(self, name: str) -> Collection:
        cm = t.collection_members
        with self.engine.connect() as conn:
            head = conn.execute(select(t.collections).where(t.collections.c.name == name)).first()
            if head is None:
                raise RecordNotFound(f"no collection named {name!r}")
            rows = conn.execute(
                select(cm.c.path, t.artifacts)
                .join(t.artifacts, t.artifacts.c.hash == cm.c.artifact_hash)
                .where(cm.c.collection_id == head.id)
                .order_by(cm.c.path)
            )
            members = tuple(FileRef(row.path, _artifact_from_row(row)) for row in rows)
        return Collection(head.name, head.kind, members)

    @_translated
    def add_tag(self, target: str, name: str) -> None:
        stmt = self._insert_ignoring(t.tags).values(target=target, name=name)
        with write_transaction(self.engine) as conn:
            conn.execute(stmt.on_conflict_do_nothing(index_elements=["target", "name"]))

    @_translated
    def remove_tag(self, target: str, name: str) -> bool:
        c = t.tags.c
        with write_transaction(self.engine) as conn:
            result = conn.execute(delete(t.tags).where(c.target == target, c.name == name))
        return bool(result.rowcount)

    @_translated
    def tags_of(self, target: str) -> list[Tag]:
        query = select(t.tags).where(t.tags.c.target == target).order_by(t.tags.c.name)
        with self.engine.connect() as conn:
            return [Tag(row.target, row.name) for row in conn.execute(query)]

    @_translated
    def flag(self, artifact_hash: str, note: str | None = None) -> Flag:
        flag = Flag(artifact_hash, time.time(), note)
        stmt = self._insert_ignoring(t.flags).values(
            artifact_hash=flag.artifact_hash, flagged_at=flag.flagged_at, note=flag.note
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["artifact_hash"],
            set_={"flagged_at": stmt.excluded.flagged_at, "note": stmt.excluded.note},
        )
        with write_transaction(self.engine) as conn:
            conn.execute(stmt)
        return flag

    @_translated
    def unflag(self, artifact_hash: str) -> bool:
        with write_transaction(self.engine) as conn:
            result = conn.execute(delete(t.flags).where(t.flags.c.artifact_hash == artifact_hash))
        return bool(result.rowcount)

    @_translated
    def flags(self) -> list[Flag]:
        query = select(t.flags).order_by(t.flags.c.flagged_at)
        with self.engine.connect() as conn:
            return [
                Flag(row.artifact_hash, row.flagged_at, row.note) for row in conn.execute(query)
            ]

    # -- health ----------------------------------------------------------------------------

    @_translated
    def integrity_problems(self) -> list[str]:
        """SQLite's own consistency check; empty when the file is sound (PostgreSQL: [])."""
        if not is_sqlite(self.engine):
            return []
        with self.engine.connect() as conn:
            rows = [str(r[0]) for r in conn.execute(text("PRAGMA integrity_check"))]
        return [] if rows == ["ok"] else rows
