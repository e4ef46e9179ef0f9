"""Child processes for the store's concurrency and crash tests.

python -m tests.contract.workers record URL COUNT TAG   record COUNT jobs, 3 files each
python -m tests.contract.workers hold URL               open a write, insert, then hang
"""

from __future__ import annotations

import sys
import time

from sqlalchemy import insert

from roar.models import Artifact, FileRef, JobSpec
from roar.store import Store
from roar.store import schema as t
from roar.store.engine import write_transaction

SHARED = Artifact("0" * 64, 1)  # every worker upserts this one: a real insert race


def job_files(tag: str, index: int) -> tuple[list[FileRef], list[FileRef]]:
    mine = Artifact(f"{tag}-{index}".encode().hex().ljust(64, "a")[:64], index)
    out = Artifact(f"out-{tag}-{index}".encode().hex().ljust(64, "b")[:64], index)
    return [FileRef("shared.csv", SHARED), FileRef(f"in/{tag}/{index}", mine)], [
        FileRef(f"out/{tag}/{index}", out)
    ]


def record(url: str, count: int, tag: str) -> None:
    with Store.open(url) as store:
        for index in range(count):
            inputs, outputs = job_files(tag, index)
            store.record_job(
                JobSpec(
                    step=f"worker-{tag}", command=("train", str(index)), started_at=time.time()
                ),
                inputs,
                outputs,
            )
            print(index, flush=True)


def hold(url: str) -> None:
    with Store.open(url) as store, write_transaction(store.engine) as conn:
        conn.execute(
            insert(t.artifacts).values(hash="c" * 64, size=1, kind="file", created_at=0.0, meta={})
        )
        conn.execute(
            insert(t.jobs).values(
                uid="partial",
                kind="run",
                step="s",
                command=[],
                cwd="/",
                started_at=0.0,
                env={},
                host={},
                trace_coverage="none",
            )
        )
        print("inside", flush=True)
        time.sleep(600)


if __name__ == "__main__":
    verb, url, *rest = sys.argv[1:]
    if verb == "record":
        record(url, int(rest[0]), rest[1])
    else:
        hold(url)
