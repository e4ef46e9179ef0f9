"""Host capture: GPUs through nvidia-smi, which may be missing, broken or hung."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from roar.capture.environment import redact_command, redact_environment
from roar.capture.host import capture_host, gpus


def fake_nvidia_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> None:
    tool = tmp_path / "nvidia-smi"
    tool.write_text(f"#!/bin/sh\n{body}\n")
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")


def test_no_nvidia_smi_means_no_gpus(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert gpus() == []


def test_gpus_are_parsed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake_nvidia_smi(tmp_path, monkeypatch, "echo 'NVIDIA H200, 143771 MiB, 570.86.15, GPU-1234'")
    assert gpus() == [
        {
            "name": "NVIDIA H200",
            "memory.total": "143771 MiB",
            "driver_version": "570.86.15",
            "uuid": "GPU-1234",
        }
    ]


def test_a_hung_nvidia_smi_is_cut_off(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake_nvidia_smi(tmp_path, monkeypatch, "sleep 30")
    start = time.monotonic()
    assert gpus(timeout=0.5) == []
    assert time.monotonic() - start < 5


def test_failing_nvidia_smi(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake_nvidia_smi(tmp_path, monkeypatch, "echo 'NVIDIA-SMI has failed' >&2; exit 9")
    assert gpus() == []


def test_host_fields() -> None:
    host = capture_host()
    assert {"hostname", "os", "kernel", "machine", "cpu", "cpu_count", "memory_bytes"} <= set(host)


@pytest.mark.parametrize(
    "name",
    [
        "GITHUB_TOKEN",
        "AWS_SECRET_ACCESS_KEY",
        "DB_PASSWORD",
        "OPENAI_API_KEY",
        "WANDB_KEY",
        "SLACK_WEBHOOK_URL",
    ],
)
def test_secret_names_are_redacted(name: str) -> None:
    assert redact_environment({name: "value"}) == {name: "<redacted>"}


def test_authors_are_no_secret() -> None:
    kept = {"GIT_AUTHOR_NAME": "Ada", "GIT_AUTHOR_EMAIL": "ada@example.com"}
    assert redact_environment({**kept, "HTTP_AUTH": "x"}) == {**kept, "HTTP_AUTH": "<redacted>"}


def test_secret_options_are_redacted_from_a_command() -> None:
    argv = ["python", "train.py", "--api-key=k1", "--hf-token", "t1", "--lr", "0.1",
            "WANDB_KEY=w1", "--data", "https://me:pw@host/x?sig=s1", "--author=Ada",
            "--password", "--epochs", "3", "-k", "v"]  # fmt: skip
    assert redact_command(argv) == [
        "python", "train.py", "--api-key=<redacted>", "--hf-token", "<redacted>", "--lr",
        "0.1", "WANDB_KEY=<redacted>", "--data", "https://me:***@host/x?sig=***",
        "--author=Ada", "--password", "--epochs", "3", "-k", "v",
    ]  # fmt: skip
    assert argv[2] == "--api-key=k1"  # a copy: the record keeps what ran


def test_ordinary_variables_are_kept_and_url_passwords_masked() -> None:
    safe = redact_environment(
        {"PATH": "/bin", "MLFLOW_URI": "https://me:pw@host/x", "DB": "Postgres+SSL://u:p@db/x"}
    )
    assert safe == {
        "PATH": "/bin",
        "MLFLOW_URI": "https://me:***@host/x",
        "DB": "Postgres+SSL://u:***@db/x",  # a scheme in any case
    }


def test_credentials_in_url_queries_are_masked() -> None:
    safe = redact_environment(
        {
            "DATA_URL": "https://b.s3.amazonaws.com/x.csv?X-Amz-Credential=AKIA1%2F2&"
            "X-Amz-Date=20260101T000000Z&X-Amz-Signature=abc123",
            "BLOB": "https://acct.blob.core.windows.net/c/f?sv=2022-11-02&sig=s%2Fx&se=2027",
            "FEED": "https://example.com/feed?api_key=k1&page=2#top",
            "PLAIN": "https://example.com/search?q=keyboards&sort=asc",
        }
    )
    assert safe["DATA_URL"] == (
        "https://b.s3.amazonaws.com/x.csv?X-Amz-Credential=***&X-Amz-Date=20260101T000000Z"
        "&X-Amz-Signature=***"
    )
    assert safe["BLOB"] == "https://acct.blob.core.windows.net/c/f?sv=2022-11-02&sig=***&se=2027"
    assert safe["FEED"] == "https://example.com/feed?api_key=***&page=2#top"
    assert safe["PLAIN"] == "https://example.com/search?q=keyboards&sort=asc"


def test_host_matches_what_the_standard_library_reports() -> None:
    import platform
    import socket

    host = capture_host()
    assert host["hostname"] == socket.gethostname()
    assert host["kernel"] == platform.release()
    assert host["machine"] == platform.machine()
    try:
        expected = platform.freedesktop_os_release().get("PRETTY_NAME", platform.system())
    except OSError:
        expected = platform.system()
    assert host["os"] == expected


@pytest.mark.parametrize(
    ("line", "name"),
    [
        ('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"', "Debian GNU/Linux 12 (bookworm)"),
        ("PRETTY_NAME='Alpine Linux v3.20'", "Alpine Linux v3.20"),
        ("PRETTY_NAME=Arch", "Arch"),
        ('PRETTY_NAME="say \\"hi\\" for \\$5"', 'say "hi" for $5'),
        ('PRETTY_NAME=""', "Linux"),
        ('NAME="Other"', "Linux"),
    ],
)
def test_os_name_reads_os_release(tmp_path: Path, line: str, name: str) -> None:
    from roar.capture.host import _os_name

    release = tmp_path / "os-release"
    release.write_text(f'ID=x\n{line}\nVERSION="1"\n', encoding="utf-8")
    expected = name if name != "Linux" else os.uname().sysname
    assert _os_name((str(release), "/nonexistent")) == expected


def test_os_name_falls_back_to_the_second_file_then_the_kernel(tmp_path: Path) -> None:
    from roar.capture.host import _os_name

    second = tmp_path / "second"
    second.write_text('PRETTY_NAME="From Usr Lib"\n', encoding="utf-8")
    assert _os_name((str(tmp_path / "missing"), str(second))) == "From Usr Lib"
    assert _os_name((str(tmp_path / "missing"),)) == os.uname().sysname
