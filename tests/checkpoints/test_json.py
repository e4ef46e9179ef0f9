"""`roar ckpt ... --json` prints the shapes documented in docs/json/ckpt-*.schema.json."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from roar.checkpoints import CheckpointStore
from tests.helpers import run_roar

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "json"


def _valid(name: str, document: Any) -> Any:
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    Draft202012Validator.check_schema(schema)
    errors = [e.message for e in Draft202012Validator(schema).iter_errors(document)]
    assert not errors, (name, errors[:3])
    return document


def _json(url: str, cwd: Path, *args: str, code: int = 0) -> Any:
    result = run_roar("ckpt", "--store", url, *args, "--json", cwd=cwd)
    assert result.code == code, result.stderr
    return json.loads(result.stdout)


def test_every_ckpt_json_output_matches_its_schema(store_url: str, tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    ids = []
    with CheckpointStore(store_url, cache_dir=tmp_path / "cache") as store:
        for step in range(3):
            (source / "model.bin").write_bytes(b"step %d" % step)
            ids.append(store.save(source, message=f"step {step}", metadata={"step": step}).id)
        store.client.update_ref("best", ids[1])

    listed = _valid("ckpt-list", _json(store_url, tmp_path, "list"))
    assert [c["id"] for c in listed] == ids[::-1]
    assert listed[0]["refs"] == ["latest"]
    assert listed[1]["refs"] == ["best"]
    assert listed[0]["parent"] == ids[1]

    shown = _valid("ckpt-show", _json(store_url, tmp_path, "show", "best"))
    assert shown["id"] == ids[1]
    assert shown["metadata"]["step"] == 1
    assert [f["path"] for f in shown["files"]] == ["model.bin"]

    refs = _valid("ckpt-refs", _json(store_url, tmp_path, "refs"))
    assert {r["name"]: r["target"] for r in refs} == {"latest": ids[2], "best": ids[1]}

    verified = _valid("ckpt-verify", _json(store_url, tmp_path, "verify"))
    assert [v["ok"] for v in verified] == [True, True, True]

    gc = _valid("ckpt-gc", _json(store_url, tmp_path, "gc", "--keep-last", "0", "--dry-run"))
    assert gc == {"dry_run": True, "removed": [ids[0]], "kept": ids[1:]}


def test_verify_json_reports_every_commit_and_exits_9_on_a_bad_one(tmp_path: Path) -> None:
    url = str(tmp_path / "store")
    source = tmp_path / "src"
    source.mkdir()
    with CheckpointStore(url, cache_dir=tmp_path / "cache") as store:
        ids = []
        for step in range(3):
            (source / "weights.bin").write_bytes(b"step %d" % step)
            ids.append(store.save(source).id)
    rotten = Path(url, "commits", ids[1], "files", "weights.bin")
    os.chmod(rotten, 0o644)
    rotten.write_bytes(b"bit rot")
    verified = _valid("ckpt-verify", _json(url, tmp_path, "verify", code=9))
    assert [(v["id"], v["ok"]) for v in verified] == [
        (ids[0], True),
        (ids[1], False),
        (ids[2], True),
    ]
    assert "weights.bin" in verified[1]["problem"]
    text = run_roar("ckpt", "--store", url, "verify", cwd=tmp_path)
    assert text.code == 9
    assert text.stdout.count("ok ") == 2
    assert f"BAD {ids[1]}  weights.bin" in text.stdout
    assert text.stderr.count("\n") == 1
    assert "weights.bin" in text.stderr
