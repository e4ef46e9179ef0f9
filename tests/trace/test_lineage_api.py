"""The library behind each lineage command, on the recorded diamond pipeline of conftest.

Jobs: @1 prep (raw -> clean), @2 feat_a (clean -> a), @3 feat_b (clean -> b), @4 broken
(reads clean, exit 4), @5 train (a, b -> model), @6 feat_a again (clean -> a, new content).
The CLI tests cover the same commands end to end; these pin the answers of the API that
scripts and notebooks call.
"""

from __future__ import annotations

from roar.lineage import ArtifactTarget, resolve_ref
from roar.lineage.compare import first_forks, job_differences
from roar.lineage.review import review_flags
from roar.lineage.status import stale_jobs
from roar.models import FileRef
from tests.trace.conftest import Workspace


def _hash_at(ws: Workspace, path: str) -> str:
    with ws.project.open_store() as store:
        target = resolve_ref(store, path, project_root=ws.root, cwd=ws.root)
    assert isinstance(target, ArtifactTarget)
    return target.artifact.hash


def test_log_api_filters(pipeline: Workspace) -> None:
    with pipeline.project.open_store() as store:
        assert [j.id for j in store.list_jobs()] == [6, 5, 4, 3, 2, 1]
        assert [j.id for j in store.list_jobs(2)] == [6, 5]
        assert [j.id for j in store.list_jobs(step="feat_a")] == [6, 2]
        assert [(j.id, j.exit_code) for j in store.list_jobs(failed=True)] == [(4, 4)]
        assert store.file_counts([5, 4]) == {5: (2, 1), 4: (1, 0)}


def test_history_and_diff_api(pipeline: Workspace) -> None:
    with pipeline.project.open_store() as store:
        first, rerun = store.get_job(2), store.get_job(6)
        fields = {d.field: (d.a, d.b) for d in job_differences(store, first, rerun)}
        assert set(fields) == {"command", "output a.txt"}
        assert fields["command"][1][-1] == "head -n 1 clean.txt > a.txt"
        assert job_differences(store, first, first) == []
        # a.txt (as of the re-run) and model.bin share clean.txt but part at their makers.
        forks = first_forks(store, _hash_at(pipeline, "a.txt"), _hash_at(pipeline, "model.bin"))
        assert [(f.a, f.b) for f in forks] == [("@6", "@5")]
        same = _hash_at(pipeline, "clean.txt")
        assert first_forks(store, same, same) == []


def test_tags_flags_review_and_collections_api(pipeline: Workspace) -> None:
    model, b_file = _hash_at(pipeline, "model.bin"), _hash_at(pipeline, "b.txt")
    with pipeline.project.open_store() as store:
        store.add_tag(model, "candidate")
        store.add_tag(model, "candidate")  # idempotent
        assert [t.name for t in store.tags_of(model)] == ["candidate"]
        assert store.remove_tag(model, "candidate") is True
        assert store.remove_tag(model, "candidate") is False

        store.flag(model, "accuracy dropped")
        store.flag(b_file)
        review = review_flags(store)
        assert {f.artifact_hash for f in review.flags} == {model, b_file}
        # prep and feat_b feed both flagged outputs; feat_a (@2) and train only the model.
        ranked = [(job.id, count) for job, count in review.ranked]
        assert ranked == [(1, 2), (3, 2), (2, 1), (5, 1)]
        assert store.unflag(b_file) is True
        ranked = [(job.id, count) for job, count in review_flags(store).ranked]
        assert ranked == [(1, 1), (2, 1), (3, 1), (5, 1)]

        raw = store.newest_artifact_at("raw.txt")
        assert raw is not None
        store.add_collection("dataset", "dataset", [FileRef("raw.txt", raw)])
        found = store.get_collection("dataset")
        assert [(m.path, m.artifact.hash) for m in found.members] == [("raw.txt", raw.hash)]
        assert store.collection_names() == [("dataset", "dataset", 1)]


def test_status_api_names_reasons(pipeline: Workspace) -> None:
    with pipeline.project.open_store() as store:
        # The feat_a re-run (@6) rewrote a.txt after train (@5) read it.
        assert {s.job.id: s.reasons for s in stale_jobs(store, pipeline.root)} == {
            5: ("input a.txt changed",)
        }
        (pipeline.root / "b.txt").write_text("edited by hand\n")
        (pipeline.root / "clean.txt").unlink()
        stale = {s.job.id: s.reasons for s in stale_jobs(store, pipeline.root)}
    assert stale == {
        3: ("input clean.txt is missing",),
        5: ("input a.txt changed", "input b.txt changed"),
        6: ("input clean.txt is missing",),
    }
