"""Host capture: GPUs through nvidia-smi, which may be missing, broken or hung."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from roar.capture.environment import redact_environment
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
    "name", ["GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "DB_PASSWORD", "OPENAI_API_KEY", "WANDB_KEY"]
)
def test_secret_names_are_redacted(name: str) -> None:
    assert redact_environment({name: "value"}) == {name: "<redacted>"}


def test_ordinary_variables_are_kept_and_url_passwords_masked() -> None:
    safe = redact_environment({"PATH": "/bin", "MLFLOW_URI": "https://me:pw@host/x"})
    assert safe == {"PATH": "/bin", "MLFLOW_URI": "https://me:***@host/x"}
