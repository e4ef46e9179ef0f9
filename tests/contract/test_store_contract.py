"""The store contract: every backend (SQLite, PostgreSQL) must pass all of these."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from roar.errors import RecordNotFound, StoreError
from roar.models import Artifact, FileRef, HashCacheEntry, JobSpec
from roar.store import Store, new_job_uid, parse_store_url
from roar.store import schema as t
from roar.store.migrate import HEAD_REVISION, KNOWN_REVISIONS, MIGRATIONS
from tests.contract.workers import job_files

REPO = Path(__file__).resolve().parents[2]


def art(name: str, size: int = 1) -> Artifact:
    return Artifact(name.encode().hex().ljust(64, "0")[:64], size)


def test_known_revisions_match_alembic_history() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    script = ScriptDirectory.from_config(config)
    history = [rev.revision for rev in script.walk_revisions()][::-1]
    assert tuple(history) == KNOWN_REVISIONS
    assert script.get_current_head() == HEAD_REVISION


def test_migrated_schema_matches_the_table_definitions(store: Store, store_url: str) -> None:
    engine = create_engine(parse_store_url(store_url).url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), t.metadata)
    finally:
        engine.dispose()
    assert diff == []


def count(store: Store, table: str) -> int:
    with store.db.read() as cur:
        return int(cur.execute(f"SELECT COUNT(*) FROM {table}").scalar())


def test_open_twice_with_create_is_idempotent(store_url: str, store: Store) -> None:
    with Store.open(store_url, create=True) as again:
        assert again.count_jobs() == 0


def test_job_round_trip_keeps_every_field(store: Store) -> None:
    spec = JobSpec(
        kind="build",
        step="train",
        command=("python", "train.py", "--lr", "0.1", "caf\u00e9 file"),
        cwd="/work/proj",
        started_at=1_700_000_000.25,
        ended_at=1_700_000_042.5,
        exit_code=3,
        git_commit="a" * 40,
        git_branch="main",
        git_dirty=True,
        git_remote="git@example.invalid:team/proj.git",
        patch_hash="b" * 64,
        env={"packages": {"numpy": "2.1.0"}, "python": "3.11.7"},
        host={"cpu": "x86_64", "gpus": []},
        trace_coverage="reduced",
        owner="ana",
        notes="first try",
    )
    inputs = [FileRef("data/raw.csv", art("raw", 10)), FileRef("params.yaml", art("params", 2))]
    outputs = [FileRef("model.pt", art("model", 99))]
    job = store.record_job(spec, inputs, outputs)

    loaded = store.get_job(job.id)
    assert loaded == job
    assert {k: v for k, v in loaded._asdict().items() if k not in {"id", "uid"}} == spec._asdict()
    assert [f.path for f in store.job_inputs(job.id)] == ["data/raw.csv", "params.yaml"]
    assert store.job_outputs(job.id)[0].artifact.hash == art("model").hash
    assert store.get_artifact(art("model").hash).size == 99


def test_uids_are_unique_and_ids_increase(store: Store) -> None:
    jobs = [store.record_job(JobSpec(step=str(i))) for i in range(20)]
    assert len({j.uid for j in jobs}) == 20
    assert [j.id for j in jobs] == sorted(j.id for j in jobs)
    assert [j.id for j in store.list_jobs(limit=3)] == [j.id for j in jobs[::-1][:3]]
    assert store.count_jobs() == 20


def test_parent_links(store: Store) -> None:
    parent = store.record_job(JobSpec(step="pipeline"))
    child = store.record_job(JobSpec(step="task", kind="task", parent_job=parent.id))
    assert store.get_job(child.id).parent_job == parent.id


def test_a_job_adopts_the_children_that_named_its_announced_uid(store: Store) -> None:
    uid = new_job_uid()
    started = 1_700_000_000.0
    before = store.record_job(
        JobSpec(step="older", started_at=started - 60, env={"parent_uid": uid})
    )
    child = store.record_job(JobSpec(step="t", kind="task", started_at=started + 1,
                                     env={"parent_uid": uid}))  # fmt: skip
    other = store.record_job(JobSpec(step="u", kind="task", started_at=started + 2,
                                     env={"parent_uid": new_job_uid()}))  # fmt: skip
    run = store.record_job(JobSpec(step="run", started_at=started), uid=uid, tags=["a", "b"])
    assert run.uid == uid
    assert store.get_job(child.id).parent_job == run.id
    assert store.get_job(other.id).parent_job is None
    assert store.get_job(before.id).parent_job is None  # started before the run: not its own
    assert [t.name for t in store.tags_of(f"job:{uid}")] == ["a", "b"]


def test_finish_job_completes_an_unfinished_job_once(store: Store) -> None:
    job = store.record_job(JobSpec(step="t", kind="task", env={"params": {"a": 1}}),
                           [FileRef("in", art("in"))])  # fmt: skip
    assert (job.exit_code, job.ended_at) == (None, None)
    done = store.finish_job(
        job.id,
        ended_at=job.started_at + 2,
        exit_code=0,
        notes=None,
        env={"params": {"a": 1}, "task": {"result": 1}},
        outputs=[FileRef("task:t/out", art("out", 3))],
    )
    assert (done.exit_code, done.ended_at, done.env["task"]) == (
        0,
        job.started_at + 2,
        {"result": 1},
    )
    assert [r.path for r in store.job_outputs(job.id)] == ["task:t/out"]
    assert [r.path for r in store.job_inputs(job.id)] == ["in"]
    with pytest.raises(RecordNotFound, match="no unfinished job"):
        store.finish_job(job.id, ended_at=0, exit_code=1, notes="again", env={})
    assert store.get_job(job.id).exit_code == 0


def test_successful_runs_after(store: Store) -> None:
    first = store.record_job(JobSpec(step="s", exit_code=0))
    store.record_job(JobSpec(step="s", exit_code=1))
    store.record_job(JobSpec(step="other", exit_code=0))
    third = store.record_job(JobSpec(step="s", exit_code=0))
    assert store.successful_runs_after("s", first.id) == [third.id]
    assert store.successful_runs_after("s", third.id) == []


def test_successful_builds_at_a_commit(store: Store) -> None:
    here, there = "a" * 40, "b" * 40
    ok = store.record_job(JobSpec(step="make", kind="build", git_commit=here, exit_code=0))
    store.record_job(JobSpec(step="make", kind="build", git_commit=here, exit_code=2))
    store.record_job(JobSpec(step="make", kind="build", git_commit=there, exit_code=0))
    store.record_job(JobSpec(step="train", kind="run", git_commit=here, exit_code=0))
    newer = store.record_job(JobSpec(step="pip", kind="build", git_commit=here, exit_code=0))
    assert [j.id for j in store.successful_builds_at(here)] == [newer.id, ok.id]


def test_unknown_job_and_artifact(store: Store) -> None:
    with pytest.raises(RecordNotFound):
        store.get_job(12345)
    with pytest.raises(RecordNotFound):
        store.get_artifact("f" * 64)


def test_failed_record_leaves_nothing_behind(store: Store) -> None:
    bad = JobSpec(step="orphan", parent_job=987654)  # no such parent: the insert fails
    with pytest.raises(StoreError):
        store.record_job(bad, [FileRef("x", art("lonely"))])
    assert store.count_jobs() == 0
    with pytest.raises(RecordNotFound):
        store.get_artifact(art("lonely").hash)


def test_artifacts_are_stored_once(store: Store) -> None:
    shared = art("shared")
    for i in range(3):
        store.record_job(JobSpec(step=str(i)), [FileRef("a.csv", shared), FileRef("b.csv", shared)])
    assert count(store, "artifacts") == 1
    assert count(store, "job_inputs") == 6


def test_produced_hashes_in_one_batch(store: Store) -> None:
    raw, clean, model = art("raw"), art("clean"), art("model")
    prep = store.record_job(JobSpec(step="prep"), [FileRef("raw", raw)], [FileRef("clean", clean)])
    train = store.record_job(
        JobSpec(step="train"), [FileRef("clean", clean)], [FileRef("model", model)]
    )
    asked = [raw.hash, clean.hash, model.hash, "f" * 64]
    assert store.produced_hashes(asked) == {clean.hash, model.hash}
    assert store.produced_hashes(asked, before=train.id) == {clean.hash}
    assert store.produced_hashes(asked, before=prep.id) == set()
    assert store.produced_hashes([]) == set()
    many = [art(str(i)).hash for i in range(12_000)] + [model.hash]  # more than one chunk
    assert store.produced_hashes(many) == {model.hash}


def test_hash_cache_round_trip_with_full_64_bit_stat_fields(store: Store) -> None:
    entry = HashCacheEntry(
        "/data/x",
        (1 << 64) - 1,
        (1 << 63) + 5,
        10,
        1_700_000_000_123_456_789,
        1_700_000_000_987_654_321,
        "c" * 64,
    )
    store.store_hashes([entry])
    assert store.lookup_hashes(["/data/x", "/missing"]) == {"/data/x": entry}
    changed = entry._replace(size=11, hash="d" * 64)
    store.store_hashes([changed])
    assert store.lookup_hashes(["/data/x"])["/data/x"] == changed


def test_hash_cache_batches_many_paths(store: Store) -> None:
    entries = [HashCacheEntry(f"/f/{i}", 1, i, i, i, i, f"{i:064x}") for i in range(2_000)]
    store.store_hashes(entries)
    found = store.lookup_hashes([e.path for e in entries])
    assert len(found) == 2_000
    assert found["/f/1999"].hash == f"{1999:064x}"


def test_collections(store: Store) -> None:
    members = [FileRef("iris/train.csv", art("train")), FileRef("iris/test.csv", art("test"))]
    made = store.add_collection("iris", "dataset", members)
    assert made.kind == "dataset"
    assert [m.path for m in store.get_collection("iris").members] == [
        "iris/test.csv",
        "iris/train.csv",
    ]
    with pytest.raises(StoreError):
        store.add_collection("iris", "dataset", [])
    with pytest.raises(RecordNotFound):
        store.get_collection("nope")


def test_tags(store: Store) -> None:
    store.add_tag("job:1", "baseline")
    store.add_tag("job:1", "baseline")
    store.add_tag("job:1", "best")
    assert [tag.name for tag in store.tags_of("job:1")] == ["baseline", "best"]
    assert store.remove_tag("job:1", "baseline") is True
    assert store.remove_tag("job:1", "baseline") is False
    assert [tag.name for tag in store.tags_of("job:1")] == ["best"]


def test_flags(store: Store) -> None:
    target = art("suspicious")
    store.put_artifacts([target])
    store.flag(target.hash, "NaN loss")
    store.flag(target.hash, "NaN loss at step 40")
    flags = store.flags()
    assert [(f.artifact_hash, f.note) for f in flags] == [(target.hash, "NaN loss at step 40")]
    assert store.unflag(target.hash) is True
    assert store.flags() == []


def _kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)  # also closes the pipes


def _spawn(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.contract.workers", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_eight_concurrent_writers_lose_nothing(store: Store, store_url: str) -> None:
    """Acceptance: 8 processes x 200 jobs into one store -> 1600 complete jobs."""
    workers = [_spawn("record", store_url, "200", f"w{n}") for n in range(8)]
    for proc in workers:
        _, err = proc.communicate(timeout=280)
        assert proc.returncode == 0, err
    assert store.count_jobs() == 1600
    with store.db.read() as cur:
        per_job = cur.execute("SELECT job_id, COUNT(*) FROM job_inputs GROUP BY job_id").fetchall()
    assert len(per_job) == 1600
    assert {count for _, count in per_job} == {2}
    assert store.integrity_problems() == []


def test_killed_writer_leaves_no_partial_record(store: Store, store_url: str) -> None:
    proc = _spawn("hold", store_url)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "inside"  # mid-transaction now
    _kill(proc)

    with Store.open(store_url) as reopened:
        assert reopened.integrity_problems() == []
        assert reopened.count_jobs() == 0
        with pytest.raises(RecordNotFound):
            reopened.get_artifact("c" * 64)
        reopened.record_job(JobSpec(step="after-crash"))  # the lock is gone, writes work
        assert reopened.count_jobs() == 1


def test_writers_killed_at_random_moments_leave_only_whole_jobs(
    store: Store, store_url: str
) -> None:
    rng = random.Random(1234)
    for round_number in range(6):
        proc = _spawn("record", store_url, "100000", f"k{round_number}")
        assert proc.stdout is not None
        proc.stdout.readline()  # at least one job is in; now kill at a random instant
        time.sleep(rng.uniform(0.0, 0.3))
        _kill(proc)
    jobs = store.list_jobs()
    assert len(jobs) >= 6
    for job in jobs:
        index = int(job.command[1])
        expected_in, expected_out = job_files(job.step.removeprefix("worker-"), index)
        assert sorted(f.path for f in store.job_inputs(job.id)) == sorted(
            f.path for f in expected_in
        )
        assert [f.path for f in store.job_outputs(job.id)] == [expected_out[0].path]
    assert store.integrity_problems() == []


def test_any_path_bytes_round_trip(store: Store) -> None:
    odd = os.fsdecode(b"data/caf\xe9 50%\nnew.csv")
    job = store.record_job(JobSpec(step="odd"), [FileRef(odd, art("odd"))])
    assert [f.path for f in store.job_inputs(job.id)] == [odd]
    entry = HashCacheEntry("/abs/" + odd, 1, 2, 3, 4, 5, "e" * 64)
    store.store_hashes([entry])
    assert store.lookup_hashes([entry.path]) == {entry.path: entry}
