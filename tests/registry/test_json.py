"""Every `roar registry ... --json` document validates against its schema in docs/json/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from tests.helpers import run_roar
from tests.registry.conftest import commit
from tests.trace.test_json_shapes import CHECKED_ELSEWHERE, SCHEMAS


def _validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FormatChecker())


def test_registry_json_matches_the_schemas(repo: Path) -> None:
    def roar(*args: str) -> None:
        assert run_roar("registry", *args, cwd=repo).code == 0, args

    (repo / "model.pkl").write_bytes(b"weights")
    roar("annotate", "model", "--type", "model", "--path", "model.pkl", "--label", "a")
    roar("register", "model")
    commit(repo)
    roar("register", "model", "--hash", "cd" * 32)
    roar("assign", "model", "prod", "--version", "v0.0.1")
    roar("assign", "model", "dev")
    roar("unassign", "model", "dev")
    roar("register", "other", "--version", "v1.0.0-rc.1")
    roar("deregister", "other", "v1.0.0-rc.1")
    seen: dict[str, list[Any]] = {}
    for args, name in CHECKED_ELSEWHERE.items():
        if args[0] != "registry":
            continue  # the checkpoint commands' shapes: tests/checkpoints/test_json.py
        result = run_roar(*args, cwd=repo)
        assert result.code == 0, (args, result.stderr)
        document = json.loads(result.stdout)
        errors = [e.message for e in _validator(name).iter_errors(document)]
        assert not errors, (args, errors[:3])
        seen.setdefault(name, []).append(document)
    assert all(seen["registry-show"])
    assert {} in seen["registry-check-ref"]
    assert any(v["hash"] for v in seen["registry-show"][1])


def test_schemas_are_strict() -> None:
    validator = _validator("registry-history")
    good = {
        "timestamp": "2030-01-01T00:00:00+00:00",
        "artifact": "m",
        "event": "registration",
        "priority": 3,
        "version": "v0.0.1",
        "stage": None,
        "commit": "a" * 40,
        "author": "T",
        "author_email": "t@x",
        "message": "m",
        "ref": "m@v0.0.1",
    }
    assert validator.is_valid([good])
    assert not validator.is_valid([{**good, "extra": 1}])
    assert not validator.is_valid([{**good, "event": "creation"}])
