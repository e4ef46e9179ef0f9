"""`roar ckpt` through the real console script, and bad input through the API: each
refused with one clear line and exit 9, nothing in the store changed."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

from roar.checkpoints import (
    BackendError,
    CheckpointStore,
    Client,
    NotFoundError,
    UnsupportedStoreUrl,
)
from roar.checkpoints.gc import plan_gc
from tests.helpers import run_roar
from tests.seaweed import SeaweedServer


def _saved_store(url: str, tmp_path: Path, count: int = 4) -> list[str]:
    source = tmp_path / "src"
    source.mkdir(exist_ok=True)
    ids = []
    with CheckpointStore(url, cache_dir=tmp_path / "cache") as store:
        for step in range(count):
            (source / "model.bin").write_bytes(b"step %d" % step)
            ids.append(store.save(source, message=f"step {step}").id)
    return ids


def test_ckpt_commands_on_a_local_store(tmp_path: Path) -> None:
    url = str(tmp_path / "store")
    ids = _saved_store(url, tmp_path)
    listed = run_roar("ckpt", "--store", url, "list", cwd=tmp_path)
    assert listed.code == 0, listed.stderr
    assert listed.stdout.index(ids[-1]) < listed.stdout.index(ids[0])  # newest first
    assert "latest" in listed.stdout.splitlines()[1]
    shown = run_roar("ckpt", "-s", url, "show", "latest", cwd=tmp_path)
    assert "step 3" in shown.stdout
    assert "model.bin" in shown.stdout
    assert f"parent   {ids[2]}" in shown.stdout
    refs = run_roar("ckpt", "-s", url, "refs", cwd=tmp_path)
    assert refs.stdout.splitlines()[1].split()[:3] == ["latest", ids[-1], "4"]
    assert run_roar("ckpt", "-s", url, "verify", cwd=tmp_path).stdout.count("ok ") == 4
    restored = run_roar("ckpt", "-s", url, "restore", ids[1], "out", cwd=tmp_path)
    assert restored.code == 0, restored.stderr
    assert (tmp_path / "out" / "model.bin").read_bytes() == b"step 1"
    gc = run_roar("ckpt", "-s", url, "gc", "--keep-last", "1", cwd=tmp_path)
    assert gc.code == 0, gc.stderr
    assert "removed 3 commits, kept 1" in gc.stdout
    assert CheckpointStore(url, cache_dir=tmp_path / "c2").load() == Path(
        url, "commits", ids[-1], "files"
    )


def test_ckpt_verify_names_the_bad_file(tmp_path: Path) -> None:
    url = str(tmp_path / "store")
    ids = _saved_store(url, tmp_path, count=1)
    bad = Path(url, "commits", ids[0], "files", "model.bin")
    os.chmod(bad, 0o644)
    bad.write_bytes(b"tampered")
    result = run_roar("ckpt", "-s", url, "verify", "latest", cwd=tmp_path)
    assert result.code == 9
    assert f"commit {ids[0]} does not verify: model.bin has 8 bytes" in result.stderr


def test_ckpt_store_from_config_and_unknown_ref(tmp_path: Path) -> None:
    url = str(tmp_path / "store")
    _saved_store(url, tmp_path, count=1)
    env = {"ROAR_CHECKPOINTS_URL": url}
    assert run_roar("ckpt", "refs", cwd=tmp_path, env=env).code == 0
    missing = run_roar("ckpt", "show", "nope", cwd=tmp_path, env=env)
    assert missing.code == 9
    assert "no ref 'nope'" in missing.stderr
    nostore = run_roar("ckpt", "list", cwd=tmp_path)
    assert nostore.code == 2
    assert "--store URL or set checkpoints.url" in nostore.stderr


def test_ckpt_list_on_s3(s3_env: SeaweedServer, tmp_path: Path) -> None:
    url = f"s3://{s3_env.bucket}/cli-{tmp_path.name}"
    ids = _saved_store(url, tmp_path, count=2)
    listed = run_roar("ckpt", "-s", url, "list", cwd=tmp_path, env=s3_env.env())
    assert listed.code == 0, listed.stderr
    assert ids[0] in listed.stdout
    assert ids[1] in listed.stdout


def test_each_store_reads_its_credentials_afresh(
    s3_env: SeaweedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stores in one process share botocore's parsed data (the S3 model), never its
    credentials: a store opened after the key changed uses the new key."""
    from roar.checkpoints.backends import BackendSettings
    from roar.checkpoints.backends.s3 import S3Backend

    url = f"s3://{s3_env.bucket}/creds-{tmp_path.name}"
    good = Client(url, cache_dir=tmp_path / "a")
    first = S3Backend.from_url(url, BackendSettings(endpoint_url=s3_env.endpoint))
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    bad = Client(url, cache_dir=tmp_path / "b", max_retries=0)
    second = S3Backend.from_url(url, BackendSettings(endpoint_url=s3_env.endpoint))
    try:
        assert good.list_refs() == []
        with pytest.raises(BackendError, match="check the credentials") as caught:
            bad.list_refs()
        assert caught.value.code in ("SignatureDoesNotMatch", "AccessDenied")
        assert first._s3._loader is second._s3._loader
    finally:
        good.close()
        bad.close()


def test_unknown_url_scheme(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedStoreUrl, match="unknown scheme 'gs'"):
        Client("gs://bucket/prefix", cache_dir=tmp_path)
    result = run_roar("ckpt", "-s", "gs://bucket/x", "list", cwd=tmp_path)
    assert result.code == 9
    assert "use a local path (or file://) or s3://bucket/prefix" in result.stderr


def test_unreachable_endpoint_fails_clearly_after_the_retries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends: nobody listens
    client = Client(
        "s3://bucket/p",
        endpoint_url=f"http://127.0.0.1:{port}",
        timeout=1,
        max_retries=2,
        cache_dir=tmp_path,
    )
    started = time.monotonic()
    with pytest.raises(BackendError, match="after 2 retries") as caught:
        client.get_ref("latest")
    assert caught.value.code == "unreachable"
    assert f"cannot reach http://127.0.0.1:{port}" in str(caught.value)
    assert time.monotonic() - started < 10


def test_gc_plan_keeps_refs_and_everything_newer() -> None:
    stored = ["c_1", "c_2", "c_3", "c_4", "c_5", "c_6"]
    complete = ["c_1", "c_2", "c_3", "c_5"]  # c_4 and c_6 incomplete
    plan = plan_gc(stored, complete, protected=["c_3"], keep_last=1)
    assert plan.remove == ("c_1", "c_2")
    assert plan.keep == ("c_3", "c_4", "c_5", "c_6")
    nothing_refd = plan_gc(stored, complete, protected=[], keep_last=2)
    assert nothing_refd.remove == ("c_1", "c_2")  # incomplete ones may be in flight


def test_a_mistyped_store_path_is_an_error_and_creates_nothing(tmp_path: Path) -> None:
    result = run_roar("ckpt", "--store", "no-such-store", "list", cwd=tmp_path)
    assert result.code == 9
    assert result.stderr.count("\n") == 1
    assert "no checkpoint store at" in result.stderr
    with pytest.raises(NotFoundError, match="no ref 'latest'"):
        CheckpointStore(tmp_path / "typo", cache_dir=tmp_path / "cache").load()
    assert not (tmp_path / "no-such-store").exists()
    assert not (tmp_path / "typo").exists()
