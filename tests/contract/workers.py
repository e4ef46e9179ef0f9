"""Child processes for the store's concurrency and crash tests.

python -m tests.contract.workers record URL COUNT TAG   record COUNT jobs, 3 files each
python -m tests.contract.workers hold URL               open a write, insert, then hang
"""

from __future__ import annotations

import sys
import time

from roar.models import Artifact, FileRef, JobSpec
from roar.store import Store

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
    with Store.open(url) as store, store.db.write() as cur:
        empty = store.db.json_param({})
        cur.execute(
            "INSERT INTO artifacts (hash, size, kind, created_at, meta) "
            "VALUES (?, 1, 'file', 0, ?)",
            ("c" * 64, empty),
        )
        cur.execute(
            "INSERT INTO jobs (uid, kind, step, command, cwd, started_at, env, host, "
            "trace_coverage) VALUES ('partial', 'run', 's', ?, '/', 0, ?, ?, 'none')",
            (store.db.json_param([]), empty, empty),
        )
        print("inside", flush=True)
        time.sleep(600)


if __name__ == "__main__":
    verb, url, *rest = sys.argv[1:]
    if verb == "record":
        record(url, int(rest[0]), rest[1])
    else:
        hold(url)
