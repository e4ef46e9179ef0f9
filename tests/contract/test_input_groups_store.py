"""Inputs stored in shared groups, on every backend: reruns add no members, `job_inputs`
reads as the old table did, concurrent writers and stores migrated from revision 0001."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from alembic import command
from alembic.config import Config

from roar.errors import StoreError
from roar.models import Artifact, FileRef, JobSpec
from roar.store import Store, parse_store_url
from roar.store.db import connect
from roar.store.engine import make_engine, write_transaction
from roar.store.input_groups import cut_groups
from roar.store.migrate import MIGRATIONS, current_revision


def art(name: str, size: int = 1) -> Artifact:
    return Artifact(name.encode().hex().ljust(64, "0")[:64], size)


def dataset(count: int, changed: int | None = None) -> list[FileRef]:
    return [
        FileRef(f"data/f{i:05d}.csv", art(f"v2-{i}" if i == changed else f"v1-{i}", i))
        for i in range(count)
    ]


def count(store: Store, table: str) -> int:
    with store.db.read() as cur:
        return int(cur.execute(f"SELECT COUNT(*) FROM {table}").scalar())


def pairs(refs: list[FileRef]) -> list[tuple[str, str]]:
    return sorted((ref.path, ref.artifact.hash) for ref in refs)


def test_a_rerun_over_the_same_files_stores_no_member_twice(store: Store) -> None:
    files = dataset(1_000)
    first = store.record_job(JobSpec(step="train"), files, [FileRef("model", art("m1"))])
    groups, members = count(store, "input_groups"), count(store, "input_group_members")
    assert members == 1_000
    assert groups == len(cut_groups(pairs(files)))

    second = store.record_job(JobSpec(step="train"), files, [FileRef("model", art("m2"))])
    assert (count(store, "input_groups"), count(store, "input_group_members")) == (groups, 1_000)
    assert pairs(store.job_inputs(second.id)) == pairs(store.job_inputs(first.id)) == pairs(files)
    assert store.file_counts([first.id, second.id]) == {first.id: (1_000, 1), second.id: (1_000, 1)}
    # the reverse lookups read through the groups too
    assert store.jobs_touching(files[17].artifact.hash) == ([], [first.id, second.id])
    assert store.newest_artifact_at("data/f00017.csv") == store.get_artifact(
        files[17].artifact.hash
    )


def test_a_changed_file_stores_only_its_group_again(store: Store) -> None:
    store.record_job(JobSpec(step="train"), dataset(1_000))
    before = count(store, "input_group_members")
    job = store.record_job(JobSpec(step="train"), dataset(1_000, changed=500))
    new_group = next(
        g
        for g in cut_groups(pairs(dataset(1_000, changed=500)))
        if any(path == "data/f00500.csv" for path, _ in g.members)
    )
    assert count(store, "input_group_members") == before + len(new_group.members)
    assert pairs(store.job_inputs(job.id)) == pairs(dataset(1_000, changed=500))
    assert store.jobs_touching(art("v2-500").hash)[1] == [job.id]


def test_inputs_learnt_at_a_tasks_end_are_not_doubled(store: Store) -> None:
    early = dataset(300)
    job = store.record_job(JobSpec(step="task"), early[:200])
    assert job.exit_code is None
    store.finish_job(job.id, ended_at=time.time(), exit_code=0, notes=None, env={}, inputs=early)
    assert pairs(store.job_inputs(job.id)) == pairs(early)
    with store.db.read() as cur:
        rows = cur.execute("SELECT COUNT(*) FROM job_inputs WHERE job_id = ?", (job.id,)).scalar()
    assert rows == 300


def test_concurrent_writers_of_the_same_new_groups_all_succeed(store_url: str) -> None:
    """Four writers record jobs over the same files at once: on PostgreSQL they race to
    store the same groups; each job still gets every input, and no group is stored twice."""
    files = dataset(600)
    failures: list[BaseException] = []
    start = threading.Barrier(4)

    def write(name: str) -> None:
        try:
            with Store.open(store_url) as mine:
                start.wait()
                for index in range(5):
                    mine.record_job(JobSpec(step=f"{name}-{index}"), files)
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    with Store.open(store_url, create=True):
        pass
    threads = [threading.Thread(target=write, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    with Store.open(store_url) as store:
        assert store.count_jobs() == 20
        assert count(store, "input_groups") == len(cut_groups(pairs(files)))
        assert count(store, "input_group_members") == 600
        for job in store.list_jobs():
            assert pairs(store.job_inputs(job.id)) == pairs(files)


# -- a store written by revision 0001 -------------------------------------------------------


def _alembic(url: str, action: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    engine = make_engine(parse_store_url(url).url)
    try:
        with write_transaction(engine) as conn:
            config.attributes["connection"] = conn
            getattr(command, action)(config, revision)
    finally:
        engine.dispose()


def _old_rows(url: str) -> Iterator[tuple[int, str, str]]:
    db = connect(parse_store_url(url))
    try:
        with db.read() as cur:
            rows = cur.execute(
                "SELECT job_id, path, artifact_hash FROM job_inputs ORDER BY 1, 2, 3"
            ).fetchall()
    finally:
        db.close()
    yield from ((int(j), str(p), str(h)) for j, p, h in rows)


@pytest.fixture
def store_at_0001(store_url: str) -> str:
    """A store at revision 0001 holding three jobs: two over the same 400 files, one over
    two of them; job 3 read one file at two contents."""
    _alembic(store_url, "upgrade", "0001")
    db = connect(parse_store_url(store_url))
    files = dataset(400)
    try:
        with db.write() as cur:
            cur.executemany(
                "INSERT INTO artifacts (hash, size, kind, created_at, meta) VALUES (?, ?, ?, ?, ?)",
                [(f.artifact.hash, f.artifact.size, "file", 1.0, "{}") for f in files]
                + [(art("other").hash, 5, "file", 1.0, "{}")],
            )
            for job_id in (1, 2, 3):  # a new database numbers them 1, 2, 3
                cur.execute(
                    "INSERT INTO jobs (uid, kind, step, command, cwd, started_at, env, host, "
                    "trace_coverage) VALUES (?, 'run', 'old', '[]', '.', ?, '{}', '{}', 'full')",
                    (f"{job_id:012x}", float(job_id)),
                )
            rows = [(j, f.artifact.hash, f.path) for j in (1, 2) for f in files]
            rows += [
                (3, files[0].artifact.hash, files[0].path),
                (3, art("other").hash, files[0].path),
            ]
            cur.executemany(
                "INSERT INTO job_inputs (job_id, artifact_hash, path) VALUES (?, ?, ?)", rows
            )
    finally:
        db.close()
    return store_url


def test_opening_a_0001_store_moves_its_inputs_into_groups(store_at_0001: str) -> None:
    before = list(_old_rows(store_at_0001))
    with Store.open(store_at_0001) as store:  # upgrades
        assert list(_old_rows(store_at_0001)) == before
        shared = len(cut_groups(pairs(dataset(400))))
        assert count(store, "input_group_members") == 400 + 2  # jobs 1 and 2 share theirs
        assert count(store, "input_groups") == shared + 1
        # a new job over the same files finds the migrated groups; new ones get fresh ids
        job = store.record_job(JobSpec(step="new"), dataset(400) + [FileRef("x", art("x"))])
        assert count(store, "input_group_members") == 400 + 2 + len(
            next(
                g
                for g in cut_groups(pairs(dataset(400) + [FileRef("x", art("x"))]))
                if any(p == "x" for p, _ in g.members)
            ).members
        )
        assert len(store.job_inputs(job.id)) == 401


def test_downgrading_to_0001_gives_the_table_back(store_at_0001: str) -> None:
    before = list(_old_rows(store_at_0001))
    with Store.open(store_at_0001):
        pass
    _alembic(store_at_0001, "downgrade", "0001")
    assert list(_old_rows(store_at_0001)) == before
    _alembic(store_at_0001, "upgrade", "head")
    assert list(_old_rows(store_at_0001)) == before


def test_a_migration_that_fails_midway_changes_nothing(
    store_at_0001: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The upgrade is one transaction: a failure after groups and members were written
    (as a kill would be) leaves revision 0001 and its table as they were, and the next
    open upgrades."""
    import roar.store.input_groups as groups

    before = list(_old_rows(store_at_0001))
    real = groups.bulk_rows

    def link_a_missing_job(per_job: Any, ids: dict[str, int]) -> groups.BulkRows:
        rows = real(per_job, ids)  # groups and members are written, then the links fail
        return groups.BulkRows(rows.groups, rows.members, [*rows.links, (999_999, 1)])

    monkeypatch.setattr(groups, "bulk_rows", link_a_missing_job)
    with pytest.raises(StoreError):
        Store.open(store_at_0001)
    db = connect(parse_store_url(store_at_0001))
    try:
        assert current_revision(db) == "0001"
    finally:
        db.close()
    assert list(_old_rows(store_at_0001)) == before
    monkeypatch.setattr(groups, "bulk_rows", real)
    with Store.open(store_at_0001) as store:
        assert pairs(store.job_inputs(1)) == pairs(dataset(400))
