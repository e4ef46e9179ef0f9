"""roar and GTO (from PyPI) read each other's registries the same way.

GTO orders events by the tagger date, whose resolution is one second, and it writes tags
with the current time. Where the order matters (two events on one stage), the GTO-built
repository waits for the next second, so that both tools must agree; roar's own ordering
of same-second events is tested in test_api.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import run_roar
from tests.registry.conftest import commit

pytestmark = pytest.mark.slow


class Gto:
    def __init__(self, binary: Path, repo: Path) -> None:
        self.binary = binary
        self.repo = repo

    def __call__(self, *args: str, new_second: bool = False) -> str:
        if new_second:  # GTO cannot order two events of one second; give it a fresh one
            time.sleep(1 - time.time() % 1 + 0.01)
        proc = subprocess.run(
            [str(self.binary), *args],
            cwd=self.repo,
            capture_output=True,
            text=True,
            env={**os.environ, "GTO_EMOJIS": "false"},
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
        return proc.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json"))


def roar_json(repo: Path, *args: str) -> Any:
    result = run_roar("registry", *args, "--json", cwd=repo)
    assert result.code == 0, (args, result.stderr)
    return json.loads(result.stdout)


def _versions(doc: list[dict[str, Any]]) -> set[tuple[str, tuple[str, ...]]]:
    # A set: GTO 1.10 lists a stage's bare commit (no version registered) twice.
    return {(v["version"], tuple(sorted(s["stage"] for s in v["stages"]))) for v in doc}


def _events(doc: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    keys = ("timestamp", "artifact", "event", "priority", "version", "stage", "commit", "ref")
    return sorted(tuple(e[k] for k in keys) for e in doc)


def assert_same_registry(repo: Path, gto: Gto) -> dict[str, Any]:
    table = gto.json("show")
    assert roar_json(repo, "show") == table
    for name in table:
        assert _versions(roar_json(repo, "show", name)) == _versions(gto.json("show", name))
        assert _events(roar_json(repo, "history", name)) == _events(gto.json("history", name))
    return dict(table)


def test_a_registry_built_by_gto_reads_the_same_in_roar(repo: Path, gto_bin: Path) -> None:
    gto = Gto(gto_bin, repo)
    gto("register", "model")
    commit(repo)
    gto("register", "model")
    gto("assign", "model", "--stage", "dev")
    commit(repo)
    gto("register", "model", "--bump-minor")
    gto("assign", "model", "--version", "v0.0.1", "--stage", "prod")
    gto("assign", "model", "--stage", "dev", new_second=True)  # v0.1.0 joins v0.0.2 in dev
    gto("deprecate", "model", "v0.0.2", "dev", new_second=True)  # unassign
    gto("register", "data", "--version", "v1.0.0-rc.1+build.5")
    gto("register", "old")
    gto("deprecate", "old", new_second=True)
    gto("register", "models/nlp:bert", "HEAD~1")
    gto("assign", "models/nlp:bert", "--stage", "staging", "--simple", "true", "HEAD~1")
    commit(repo)
    gto("register", "gone")
    gto("deprecate", "gone", "v0.0.1")  # deregister
    gto("assign", "model", "--stage", "qa", "--skip-registration")  # a bare commit in a stage

    table = assert_same_registry(repo, gto)
    assert table["model"] == {
        "version": "v0.1.0",
        "stage": {
            "dev": "v0.1.0",
            "prod": "v0.0.1",
            "qa": table["model"]["stage"]["qa"],
            "staging": None,
        },
        "registered": True,
        "active": True,
    }
    assert len(table["model"]["stage"]["qa"]) == 40  # the commit sha stands in for a version
    assert table["models/nlp:bert"]["stage"]["staging"] == "v0.0.1"
    assert "old" not in table


def test_tags_written_by_roar_read_the_same_in_gto(repo: Path, gto_bin: Path) -> None:
    clock = iter(range(1_900_000_000, 1_900_001_000))

    def roar(*args: str) -> None:
        env = {"GIT_COMMITTER_DATE": f"@{next(clock)} +0000"}
        result = run_roar("registry", *args, cwd=repo, env=env)
        assert result.code == 0, (args, result.stderr)

    roar("register", "model")
    roar("register", "data", "--version", "v2.0.0")
    commit(repo)
    roar("register", "model")
    roar("assign", "model", "dev")
    roar("promote", "model", "prod", "--version", "v0.0.1")
    commit(repo)
    roar("register", "model", "--bump-major")
    roar("assign", "model", "prod")
    roar("unassign", "model", "prod")  # back to v0.0.1 in prod
    roar("assign", "model", "staging", "--version", "v0.0.2")
    roar("deregister", "model", "v0.0.2")
    roar("register", "models/nlp:bert", "HEAD~1")
    roar("assign", "models/nlp:bert", "prod", "--version", "v0.0.1")
    roar("register", "old", "--hash", "ab" * 32)
    roar("deprecate", "old")

    gto = Gto(gto_bin, repo)
    table = assert_same_registry(repo, gto)
    assert table["model"]["version"] == "v1.0.0"
    assert table["model"]["stage"]["prod"] == "v0.0.1"
    assert table["models/nlp:bert"]["stage"]["prod"] == "v0.0.1"
    assert "old" not in table
    for tag in ("model#prod#3", "model@v1.0.0", "models/nlp=bert#prod#1", "old@v0.0.1"):
        assert roar_json(repo, "check-ref", tag) == gto.json("check-ref", tag)
