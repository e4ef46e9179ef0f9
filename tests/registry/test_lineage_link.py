"""A registered version links to lineage: `roar show/trace NAME@vX.Y.Z` and `NAME#STAGE`."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import run_roar


def roar_ok(root: Path, *args: str) -> str:
    result = run_roar(*args, cwd=root)
    assert result.code == 0, (args, result.stderr)
    return result.stdout


def test_show_and_trace_follow_registry_refs(project: Path) -> None:
    (project / "raw.txt").write_text("3\n1\n2\n")
    roar_ok(project, "run", "-q", "-n", "prep", "sh", "-c", "sort raw.txt > clean.txt")
    roar_ok(project, "run", "-q", "-n", "train", "sh", "-c", "cat clean.txt clean.txt > model.bin")
    roar_ok(project, "registry", "register", "model", "--path", "model.bin")
    roar_ok(project, "registry", "assign", "model", "prod")
    digest = json.loads(roar_ok(project, "show", "model.bin", "--json"))["hash"]

    for ref in ("model@v0.0.1", "model@latest", "model#prod"):
        shown = json.loads(roar_ok(project, "show", ref, "--json"))
        assert (shown["type"], shown["hash"]) == ("artifact", digest)
    walked = json.loads(roar_ok(project, "trace", "model#prod", "--format", "json"))
    assert {job["step"] for job in walked["jobs"]} == {"prep", "train"}


def test_registry_refs_without_lineage_say_why(project: Path) -> None:
    roar_ok(project, "registry", "register", "bare")
    roar_ok(project, "registry", "register", "elsewhere", "--hash", "ef" * 32)
    result = run_roar("show", "bare@v0.0.1", cwd=project)
    assert result.code == 10
    assert "records no content hash; register versions with --path or --hash" in result.stderr
    result = run_roar("show", "elsewhere#prod", cwd=project)
    assert result.code == 10
    assert "no version of elsewhere is in stage 'prod'" in result.stderr
    result = run_roar("trace", "elsewhere@latest", cwd=project)
    assert result.code == 2
    assert "registered hash efefefefefef: no recorded job read or wrote it" in result.stderr
