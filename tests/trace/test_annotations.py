"""Tags, flags and review, collections: through the CLI on real runs."""

from __future__ import annotations

import json

from tests.helpers import run_roar
from tests.trace.conftest import Workspace


def ok(ws: Workspace, *args: str) -> str:
    result = run_roar(*args, cwd=ws.root)
    assert result.code == 0, result.stderr
    return result.stdout


def fail(ws: Workspace, *args: str) -> str:
    result = run_roar(*args, cwd=ws.root)
    assert result.code == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    return result.stderr


def pipeline(ws: Workspace) -> None:
    ws.write("raw.txt", "r\n")
    ws.write("other.txt", "o\n")
    # every step adds a line, so no two files share content (flags follow content)
    ok(ws, "run", "-q", "-n", "prep", "sh", "-c", "(cat raw.txt; echo p) > clean.txt")
    ok(ws, "run", "-q", "-n", "train", "sh", "-c", "(cat clean.txt; echo t) > model.bin")
    ok(ws, "run", "-q", "-n", "eval", "sh", "-c", "(cat model.bin; echo e) > metrics.txt")
    ok(ws, "run", "-q", "-n", "side", "sh", "-c", "(cat other.txt; echo s) > side.txt")


def test_tags(ws: Workspace) -> None:
    pipeline(ws)
    ok(ws, "tag", "add", "@2", "baseline")
    ok(ws, "tag", "add", "model.bin", "best")
    tags = json.loads(ok(ws, "tag", "list", "--json"))
    assert [t["name"] for t in tags] == ["baseline", "best"]
    assert json.loads(ok(ws, "show", "@2", "--json"))["tags"] == ["baseline"]
    assert json.loads(ok(ws, "show", "model.bin", "--json"))["tags"] == ["best"]
    ok(ws, "tag", "rm", "@2", "baseline")
    assert "has no tag 'baseline'" in fail(ws, "tag", "rm", "@2", "baseline")
    assert [t["name"] for t in json.loads(ok(ws, "tag", "list", "--json"))] == ["best"]


def test_flags_and_review_rank_the_feeding_jobs(ws: Workspace) -> None:
    pipeline(ws)
    assert "nothing is flagged" in ok(ws, "review")
    ok(ws, "flag", "metrics.txt", "--note", "accuracy dropped")
    ok(ws, "flag", "model.bin")
    doc = json.loads(ok(ws, "review", "--json"))
    assert {f["path"] for f in doc["flags"]} == {"metrics.txt", "model.bin"}
    ranked = [(j["step"], j["flagged_outputs"]) for j in doc["jobs"]]
    assert ranked == [("prep", 2), ("train", 2), ("eval", 1)]
    assert json.loads(ok(ws, "show", "model.bin", "--json"))["flagged"] is True
    ok(ws, "unflag", "model.bin")
    assert len(json.loads(ok(ws, "review", "--json"))["flags"]) == 1
    ok(ws, "unflag", "--all")
    assert json.loads(ok(ws, "review", "--json"))["flags"] == []
    assert "either REF or --all" in fail(ws, "unflag")


def test_collections(ws: Workspace) -> None:
    ws.write("data/a.csv", "1")
    ws.write("data/b.csv", "2")
    ok(ws, "collection", "add", "iris", "data/a.csv", "data/b.csv", "--kind", "dataset")
    ok(ws, "collection", "add", "whole", "data")
    listing = ok(ws, "collection", "list")
    assert "iris" in listing
    assert "whole" in listing
    shown = json.loads(ok(ws, "collection", "show", "iris", "--json"))
    assert [m["path"] for m in shown["members"]] == ["data/a.csv", "data/b.csv"]
    whole = json.loads(ok(ws, "collection", "show", "whole", "--json"))
    assert whole["members"][0]["kind"] == "dir"
    assert "exists" in fail(ws, "collection", "add", "iris", "data/a.csv")
    result = run_roar("collection", "show", "nope", cwd=ws.root)
    assert result.code == 5
    assert "no collection named 'nope'" in result.stderr
