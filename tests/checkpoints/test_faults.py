"""Fault injection: a writer process is SIGKILLed at random instants of save / commit /
ref update, again and again; after every kill `load("latest")` returns a complete
checkpoint whose hashes verify, and every commit the writer saw finish is still there.

Writers are forked from the test process (no interpreter start-up), save tiny
checkpoints, and report each finished save on a pipe. Half the kills come after a random
delay; the other half inside the protocol, at a randomly chosen step (`FAULT_HOOK`).
"""

from __future__ import annotations

import os
import random
import select
import signal
import threading
import time
from pathlib import Path

import pytest

from roar.checkpoints import CheckpointStore, Client, ConflictError, store

POINTS = ["sealed", "published", "manifest", "marker", "ref"]


def _content(step: int) -> dict[str, bytes]:
    return {
        "model.bin": step.to_bytes(4, "big") * 256,
        "optim/state.bin": bytes([step % 251]) * 100,
    }


def _writer(url: str, cache: Path, work: Path, report: int, point: str | None) -> None:
    """The child: save forever, reporting `commit_id step` after each save returns."""
    if point is not None:
        countdown = random.randint(1, 3)

        def hook(name: str) -> None:
            nonlocal countdown
            if name == point:
                countdown -= 1
                if countdown == 0:
                    os.kill(os.getpid(), signal.SIGKILL)

        store.FAULT_HOOK = hook
    ckpt = CheckpointStore(url, cache_dir=cache, max_retries=2)
    os.write(report, b"ready\n")  # the kill clock starts once the client is up
    step = random.randint(0, 1 << 20)
    while True:
        source = work / f"src-{os.getpid()}-{step}"
        for rel, data in _content(step).items():
            (source / rel).parent.mkdir(parents=True, exist_ok=True)
            (source / rel).write_bytes(data)
        commit = ckpt.save(source, message=str(step))
        os.write(report, f"{commit.id} {step}\n".encode())
        step += 1


def _kill_once(url: str, cache: Path, work: Path, delay: float, point: str | None) -> list[str]:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child never returns
        code = 0
        try:
            os.close(read_end)
            _writer(url, cache, work, write_end, point)
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    reaped, status = 0, 0
    ready = select.select([read_end], [], [], 30)[0]
    assert ready, "the writer did not start"
    head = os.read(read_end, 6)
    assert head == b"ready\n", head
    if point is None:
        time.sleep(delay)
    else:  # wait for the hook to fire (or give up and kill anyway)
        deadline = time.monotonic() + 10
        while not reaped and time.monotonic() < deadline:
            time.sleep(0.002)
            reaped, status = os.waitpid(pid, os.WNOHANG)
    assert point is None or reaped, f"the writer never reached {point!r}"
    if not reaped:
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    chunks = []
    while select.select([read_end], [], [], 0)[0]:
        chunk = os.read(read_end, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read_end)
    assert os.WIFSIGNALED(status), f"writer exited with {status} instead of being killed"
    return b"".join(chunks).decode().split()[0::2]


def _check_latest(ckpt: CheckpointStore, reported: list[str]) -> None:
    manifest, path = ckpt.resolve("latest")  # verifies every hash
    step = int(manifest.message)
    for rel, data in _content(step).items():
        assert (path / rel).read_bytes() == data
    if reported:
        assert manifest.commit_id >= reported[-1], "a finished save is not under latest"


def _run_kills(url: str, tmp_path: Path, timed: int, pointed: int, save_seconds: float) -> int:
    cache = tmp_path / "cache"
    work = tmp_path / "work"
    work.mkdir()
    rng = random.Random(8)
    with CheckpointStore(url, cache_dir=tmp_path / "reader-cache") as ckpt:
        source = work / "first"
        for rel, data in _content(0).items():
            (source / rel).parent.mkdir(parents=True, exist_ok=True)
            (source / rel).write_bytes(data)
        ckpt.save(source, message="0")  # the first save also opens the store
        began = time.monotonic()
        ckpt.save(source, message="0")
        # Kill delays span about three saves as measured here: on a loaded machine a save
        # takes several times longer, and every kill would land before the first finished.
        save_seconds = max(save_seconds, time.monotonic() - began)
        finished: list[str] = []
        # every point of the protocol gets its share of the kills, in a random order
        plan = [None] * timed + [POINTS[i % len(POINTS)] for i in range(pointed)]
        rng.shuffle(plan)
        saves_per_timed_kill = []
        for point in plan:
            delay = rng.uniform(0, 3 * save_seconds)
            done = _kill_once(url, cache, work, delay, point)
            if point is None:
                saves_per_timed_kill.append(len(done))
            finished += done
            _check_latest(ckpt, finished)
        # the random delays must land both before the first save finished and after it
        assert 0 in saves_per_timed_kill
        assert max(saves_per_timed_kill) > 0
        for commit_id in finished:  # no committed data lost
            assert ckpt.client.verify(commit_id).commit_id == commit_id
        return len(plan)


@pytest.mark.slow
def test_sigkill_local_writer(tmp_path: Path) -> None:
    kills = _run_kills(str(tmp_path / "store"), tmp_path, timed=110, pointed=50, save_seconds=0.01)
    assert kills == 160


@pytest.mark.slow
@pytest.mark.usefixtures("s3_env")
def test_sigkill_s3_writer(tmp_path: Path) -> None:
    url = f"s3://ckpt/kills-{tmp_path.name}"
    # Fewer kills than on disk: every S3 save is several round trips, and the protocol
    # itself is the same code the local test kills 160 times; each point is still hit.
    kills = _run_kills(url, tmp_path, timed=24, pointed=16, save_seconds=0.05)
    assert kills == 40


# ---------------------------------------------------------------- concurrent writers
WRITERS = 16


def _race(clients: list[Client], targets: list[str], seen: str) -> list[str]:
    """Every client moves `latest` from `seen` to its own target at the same instant."""
    barrier = threading.Barrier(len(clients))
    outcome = [""] * len(clients)

    def write(i: int) -> None:
        barrier.wait()
        try:
            clients[i].update_ref("latest", targets[i], expected=seen)
            outcome[i] = "won"
        except ConflictError:
            outcome[i] = "conflict"

    threads = [threading.Thread(target=write, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcome


def test_sixteen_concurrent_ref_writers(store_url: str, cache_dir: Path) -> None:
    clients = [Client(store_url, cache_dir=cache_dir) for _ in range(WRITERS)]
    try:
        seed = clients[0].commit(clients[0].create_folder(None, "seed").id)
        clients[0].update_ref("latest", seed.id)
        for _round in range(3):
            mine = [c.commit(c.create_folder(None, f"w{i}").id).id for i, c in enumerate(clients)]
            seen = clients[0].get_ref("latest").target
            outcome = _race(clients, mine, seen)
            assert outcome.count("won") == 1, outcome
            assert outcome.count("conflict") == WRITERS - 1
            assert clients[0].get_ref("latest").target == mine[outcome.index("won")]
    finally:
        for client in clients:
            client.close()
