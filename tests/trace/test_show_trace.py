"""`roar show` and `roar trace` on a real recorded pipeline: diamond, a failure, a re-run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from roar.lineage import ArtifactTarget, JobTarget, load_lineage, resolve_ref
from roar.lineage.refs import AmbiguousRef, UnknownRef
from roar.models import Artifact, FileRef, JobSpec
from tests.helpers import git, run_roar
from tests.trace.conftest import Workspace, roar_ok


def test_trace_tree_of_the_model(pipeline: Workspace) -> None:
    tree = roar_ok(pipeline, "trace", "model.bin")
    assert tree.splitlines()[0].startswith("model.bin (")
    for expected in ("made by @5 train", "a.txt", "made by @2 feat_a", "b.txt",
                     "made by @3 feat_b", "clean.txt", "made by @1 prep", "raw.txt"):  # fmt: skip
        assert expected in tree
    assert "@6" not in tree  # the re-run came after train read a.txt
    assert "broken" not in tree


def test_trace_down_shows_impact(pipeline: Workspace) -> None:
    tree = roar_ok(pipeline, "trace", "--down", "raw.txt")
    for expected in ("read by @1 prep", "read by @4 broken", "read by @5 train", "model.bin"):
        assert expected in tree


def test_trace_json_shape(pipeline: Workspace) -> None:
    doc = json.loads(roar_ok(pipeline, "trace", "model.bin", "--format", "json"))
    assert set(doc) == {"direction", "roots", "root_job", "jobs", "artifacts", "edges", "loops"}
    assert doc["direction"] == "up"
    assert [j["id"] for j in doc["jobs"]] == [1, 2, 3, 5]
    assert set(doc["jobs"][0]) >= {"id", "uid", "step", "command", "exit_code"}
    assert {e["kind"] for e in doc["edges"]} == {"input", "output"}
    assert {"from": "@5", "to": doc["roots"][0], "kind": "output", "path": "model.bin"} in doc[
        "edges"
    ]


def test_trace_dot_and_mermaid(pipeline: Workspace) -> None:
    dot = roar_ok(pipeline, "trace", "model.bin", "--format", "dot")
    assert dot.startswith("digraph lineage {")
    assert dot.rstrip().endswith("}")
    assert dot.count("->") == 9  # inputs: raw, clean x2, a, b; outputs: clean, a, b, model
    mermaid = roar_ok(pipeline, "trace", "model.bin", "--format", "mermaid")
    assert mermaid.startswith("graph LR")
    assert '(["@5 train' in mermaid


def test_trace_depth_and_job_refs(pipeline: Workspace) -> None:
    shallow = roar_ok(pipeline, "trace", "--depth", "1", "model.bin")
    assert "made by @5 train" in shallow
    assert "feat_a" not in shallow
    job_tree = roar_ok(pipeline, "trace", "@5", "--depth", "0")
    assert job_tree.splitlines()[0].startswith("@5 train")
    assert "made by" not in job_tree


def test_show_job_and_artifact(pipeline: Workspace) -> None:
    job = json.loads(roar_ok(pipeline, "show", "@4", "--json"))
    assert (job["type"], job["step"], job["exit_code"]) == ("job", "broken", 4)
    assert [f["path"] for f in job["inputs"]] == ["clean.txt"]
    text = roar_ok(pipeline, "show", "@4")
    assert "exit 4" in text
    artifact = json.loads(roar_ok(pipeline, "show", "a.txt", "--json"))
    assert artifact["type"] == "artifact"
    assert artifact["produced_by"] == [6]  # the path's newest content is the re-run's
    by_uid = json.loads(roar_ok(pipeline, "show", job["uid"][:6], "--json"))
    assert by_uid["id"] == 4
    by_hash = json.loads(roar_ok(pipeline, "show", artifact["hash"][:10], "--json"))
    assert by_hash["hash"] == artifact["hash"]


def test_bad_references(pipeline: Workspace) -> None:
    for args, code, words in [
        (("show", "nope.txt"), 2, "no job or artifact matches 'nope.txt'"),
        (("show", "@99"), 2, "`roar log` lists job numbers"),
        (("show", "@x"), 2, "write @N"),
        (("trace", "abc"), 2, "at least 4 characters"),
        (("trace", "model.bin", "--depth", "-1"), 2, "-1 is not in the range"),
    ]:
        result = run_roar(*args, cwd=pipeline.root)
        assert result.code == code, (args, result.stderr)
        assert words in result.stderr


def test_a_file_in_no_record_says_why(ws: Workspace) -> None:
    ws.write("data.csv", "a,b\n")
    git("add", "data.csv", cwd=ws.root)
    git("commit", "-qm", "data", cwd=ws.root)
    ws.write("loose.txt", "x\n")
    tracked = run_roar("trace", "--down", "data.csv", cwd=ws.root)
    assert tracked.code == 2
    assert "tracked by git" in tracked.stderr
    assert "output.track_repo_files" in tracked.stderr
    loose = run_roar("show", "loose.txt", cwd=ws.root)
    assert loose.code == 2
    assert "no recorded job read or wrote it" in loose.stderr


def test_ambiguous_prefix_lists_candidates(ws: Workspace) -> None:
    with ws.project.open_store() as store:
        store.put_artifacts([Artifact("abcd1" + "0" * 59, 1), Artifact("abcd2" + "0" * 59, 2)])
        with pytest.raises(AmbiguousRef, match="abcd10.*abcd20"):
            resolve_ref(store, "abcd", project_root=ws.root, cwd=ws.root)
        assert isinstance(
            resolve_ref(store, "abcd2", project_root=ws.root, cwd=ws.root), ArtifactTarget
        )
        with pytest.raises(UnknownRef):
            resolve_ref(store, "@7", project_root=ws.root, cwd=ws.root)
    result = run_roar("show", "abcd", cwd=ws.root)
    assert result.code == 2
    assert "ambiguous" in result.stderr


def test_lineage_api(pipeline: Workspace) -> None:
    with pipeline.project.open_store() as store:
        target = resolve_ref(store, "@5", project_root=pipeline.root, cwd=Path(pipeline.root))
        assert isinstance(target, JobTarget)
        graph = load_lineage(store, target, "up", None)
        assert sorted(graph.jobs) == [1, 2, 3, 5]
        digest = store.newest_artifact_at("clean.txt")
        assert digest is not None
        assert graph.producer(digest.hash, before=5, path="clean.txt") == 1


def test_a_corrupt_cycle_still_terminates(ws: Workspace) -> None:
    x, y = Artifact("1" * 64, 1), Artifact("2" * 64, 1)
    with ws.project.open_store() as store:
        store.record_job(JobSpec(step="a"), [FileRef("p", x)], [FileRef("q", y)])
        store.record_job(JobSpec(step="b"), [FileRef("q", y)], [FileRef("p", x)])
    up = run_roar("trace", "p", cwd=ws.root)
    assert up.code == 0
    assert "made by @2 b" in up.stdout
    assert "made by @1 a" not in up.stdout.split("made by @2 b")[0]
    assert "p (111111111111) is in its own lineage: @1 read it and @2" in up.stderr
    doc = json.loads(roar_ok(ws, "trace", "p", "--format", "json"))
    assert doc["loops"] == [{"hash": x.hash, "path": "p", "read_by": "@1", "written_by": "@2"}]
    down = run_roar("trace", "--down", "q", cwd=ws.root)
    assert down.code == 0
    assert "own lineage" not in down.stderr  # from q: @2 only, no loop in that graph


def test_a_copy_is_traced_under_the_name_asked_about(ws: Workspace) -> None:
    """Same content at two paths: the root is labelled, and walked, as the path named."""
    ws.write("made.py", "open('orig.txt', 'w').write('same\\n')\n")
    roar_ok(ws, "run", "-q", "-n", "make", "python3", "made.py")
    roar_ok(ws, "run", "-q", "-n", "copy", "cp", "orig.txt", "copy.txt")
    copied = roar_ok(ws, "trace", "copy.txt").splitlines()
    assert copied[0].startswith("copy.txt (")
    assert copied[1].endswith("made by @2 copy [run, ok] (" + copied[1].rsplit("(", 1)[1])
    original = roar_ok(ws, "trace", "orig.txt").splitlines()
    assert original[0].startswith("orig.txt (")
    assert "made by @1 make" in original[1]
    assert "copy" not in "\n".join(original)
