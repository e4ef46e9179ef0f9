"""Every `--json` output validates against its documented schema in docs/json/.

The schemas forbid undocumented keys, so a change of shape fails here until the
documentation (and so every script that reads it) is changed with it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import pytest
from jsonschema import Draft202012Validator

from roar.cli.main import cli
from tests.helpers import run_roar
from tests.trace.conftest import Workspace, roar_ok

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "json"

#: Each command (as typed after `roar`), the schema that documents it.
COMMANDS: dict[tuple[str, ...], str] = {
    ("log", "--json"): "log",
    ("show", "@4", "--json"): "show",
    ("show", "@5", "--json"): "show",
    ("show", "a.txt", "--json"): "show",
    ("trace", "model.bin", "--format", "json"): "trace",
    ("trace", "--down", "raw.txt", "--format", "json"): "trace",
    ("trace", "@5", "--format", "json"): "trace",
    ("history", "feat_a", "--json"): "history",
    ("diff", "@2", "@6", "--json"): "diff",
    ("diff", "a.txt", "model.bin", "--json"): "diff",
    ("tag", "list", "--json"): "tag-list",
    ("review", "--json"): "review",
    ("collection", "list", "--json"): "collection-list",
    ("collection", "show", "inputs", "--json"): "collection-show",
    ("status", "--json"): "status",
    ("reproduce", "model.bin", "--json"): "reproduce",
    ("hash", "raw.txt", "--json"): "hash",
    ("config", "list", "--json"): "config-list",
}

#: Validated in tests/registry/test_json.py, which builds the registry they read; listed
#: here so that the coverage check below counts them.
CHECKED_ELSEWHERE: dict[tuple[str, ...], str] = {
    ("registry", "show", "--json"): "registry-show",
    ("registry", "show", "model", "--json"): "registry-show",
    ("registry", "show", "model#prod", "--json"): "registry-show",
    ("registry", "history", "--json"): "registry-history",
    ("registry", "history", "model", "--json", "--asc"): "registry-history",
    ("registry", "check-ref", "model#prod#1", "--json"): "registry-check-ref",
    ("registry", "check-ref", "model@v0.0.1", "--json"): "registry-check-ref",
    ("registry", "check-ref", "v1.0", "--json"): "registry-check-ref",
    ("registry", "describe", "model"): "registry-describe",
    ("registry", "describe", "model@v0.0.1"): "registry-describe",
    # tests/checkpoints/test_json.py, on a local store and on SeaweedFS
    ("ckpt", "list", "--json"): "ckpt-list",
    ("ckpt", "show", "latest", "--json"): "ckpt-show",
    ("ckpt", "refs", "--json"): "ckpt-refs",
    ("ckpt", "verify", "--json"): "ckpt-verify",
    ("ckpt", "gc", "--json"): "ckpt-gc",
}
#: Commands that always print JSON, with no --json option.
ALWAYS_JSON = {("trace",), ("registry", "describe")}


def _validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


@pytest.fixture
def annotated(pipeline: Workspace) -> Workspace:
    roar_ok(pipeline, "tag", "add", "@5", "best")
    roar_ok(pipeline, "flag", "b.txt", "--note", "off by one")
    roar_ok(pipeline, "collection", "add", "inputs", "raw.txt")
    (pipeline.root / "raw.txt").write_text("changed\n")  # makes `status` non-empty
    return pipeline


def test_every_json_output_matches_its_schema(annotated: Workspace) -> None:
    seen: dict[str, list[Any]] = {}
    for args, name in COMMANDS.items():
        result = run_roar(*args, cwd=annotated.root)
        assert result.code == 0, (args, result.stderr)
        document = json.loads(result.stdout)
        errors = [e.message for e in _validator(name).iter_errors(document)]
        assert not errors, (args, errors[:3])
        seen.setdefault(name, []).append(document)
    # The pipeline exercises the interesting branches, not only empty lists.
    assert {d["type"] for d in seen["show"]} == {"job", "artifact"}
    assert {d["type"] for d in seen["diff"]} == {"jobs", "artifacts"}
    assert all(seen[name][0] for name in ("log", "status", "review", "tag-list", "history"))
    assert all(doc["loops"] == [] for doc in seen["trace"])  # no content loops in this DAG


def test_a_broken_shape_is_caught() -> None:
    """The schemas are strict enough to fail: an extra key and a wrong type are errors."""
    validator = _validator("status")
    good = {"id": 1, "uid": "0123456789ab", "step": "prep", "reasons": ["input a changed"]}
    assert validator.is_valid([good])
    assert not validator.is_valid([{**good, "extra": 1}])
    assert not validator.is_valid([{**good, "id": "1"}])


def _json_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    found: set[tuple[str, ...]] = set()
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        assert command is not None
        if isinstance(command, click.Group):
            found |= _json_commands(command, (*prefix, name))
        elif any(p.name == "as_json" for p in command.params) or (*prefix, name) in ALWAYS_JSON:
            found.add((*prefix, name))
    return found


def test_every_json_option_is_documented_and_every_schema_is_used() -> None:
    groups = {"tag", "collection", "config", "registry", "ckpt"}
    every = {**COMMANDS, **CHECKED_ELSEWHERE}
    documented = {args[: 2 if args[0] in groups else 1] for args in every}
    assert _json_commands(cli) == documented
    assert {p.name.removesuffix(".schema.json") for p in SCHEMAS.glob("*.json")} == set(
        every.values()
    )
