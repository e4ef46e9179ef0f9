"""Webhook notifications against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import roar
from roar.config import set_value
from roar.project import Project


class _Hook(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        self.received.append(
            {
                "path": self.path,
                "type": self.headers["Content-Type"],
                "body": json.loads(self.rfile.read(length)),
            }
        )
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_args: object) -> None:  # keep the test output clean
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []
    handler = type("Hook", (_Hook,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/services/T0/B0/secret", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _configure(root: Path, url: str) -> None:
    path = Project(root).config_path
    set_value(path, "notify.enabled", "true")
    set_value(path, "notify.url", url)


@roar.task
def fine() -> int:
    return 1


@roar.task
def broken() -> int:
    raise RuntimeError("disk on fire")


def test_success_and_failure_are_posted(
    proj: Path, webhook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = webhook
    fine()  # notify.enabled is false by default: nothing is sent
    assert received == []
    _configure(proj, url)
    fine()
    with pytest.raises(RuntimeError):
        broken()
    assert [r["path"] for r in received] == ["/services/T0/B0/secret"] * 2
    assert {r["type"] for r in received} == {"application/json"}
    ok, failed = (r["body"]["text"] for r in received)
    assert ok.startswith("roar: task fine (run_id 2) finished in ")
    assert failed.startswith("roar: task broken (run_id 3) failed in ")
    assert "RuntimeError: disk on fire" in failed
    assert list(received[0]["body"]) == ["text"]  # what every Slack-compatible hook takes


def test_a_server_that_is_down_only_warns(proj: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    _configure(proj, f"http://127.0.0.1:{port}/services/T0/B0/secret")
    assert fine().load() == 1
    warning = [line for line in capsys.readouterr().err.splitlines() if "notify" in line]
    assert len(warning) == 1
    assert warning[0].startswith(f"roar: warning: could not notify http://127.0.0.1:{port}: ")
    assert "secret" not in warning[0]  # a webhook's path is its credential
    assert roar.get_meta(1)["status"] == "ok"


def test_enabled_without_a_url_says_how_to_set_it(
    proj: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    set_value(Project(proj).config_path, "notify.enabled", "true")
    fine()
    assert "notify.url is not set; `roar config set notify.url" in capsys.readouterr().err
