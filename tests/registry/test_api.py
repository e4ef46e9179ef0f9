"""Every registry command through the Python API, on real git repositories."""

from __future__ import annotations

from pathlib import Path

import pytest

from roar.errors import (
    InvalidArtifactName,
    InvalidStage,
    InvalidVersion,
    NotACommit,
    NotAllowed,
    NotInStage,
    UnknownArtifact,
    UnknownVersion,
    VersionExists,
)
from roar.hashing import hash_bytes
from roar.registry import open_registry
from roar.registry.views import history_events, registry_doc
from tests.helpers import git
from tests.registry.conftest import commit, tags


def _doc(repo: Path) -> dict[str, object]:
    with open_registry(repo) as reg:
        return registry_doc(reg.state, reg.rules, reg.index)


def test_register_numbers_versions_and_keeps_one_per_commit(repo: Path) -> None:
    with open_registry(repo) as reg:
        assert reg.register("model").changes[0].tag == "model@v0.0.1"
    with (
        open_registry(repo) as reg,
        pytest.raises(VersionExists, match="one version per artifact per commit"),
    ):
        reg.register("model")
    commit(repo)
    with open_registry(repo) as reg:
        assert reg.register("model").changes[0].tag == "model@v0.0.2"
    commit(repo)
    with open_registry(repo) as reg:
        assert reg.register("model", bump="minor").changes[0].tag == "model@v0.1.0"
    commit(repo)
    with open_registry(repo) as reg:
        assert reg.register("model", bump="major").changes[0].tag == "model@v1.0.0"
    commit(repo)
    with open_registry(repo) as reg:
        assert (
            reg.register("model", version="v1.0.0-rc.1+b.7").changes[0].tag
            == "model@v1.0.0-rc.1+b.7"
        )
        # The highest release stays latest; a prerelease sorts below its release.
        assert reg.latest("model").version == "v1.0.0"
    message = git("tag", "-l", "--format=%(contents)", "model@v0.0.1", cwd=repo)
    assert message.strip() == "Registering artifact model version v0.0.1"


def test_register_at_a_ref_and_bad_refs(repo: Path) -> None:
    first = git("rev-parse", "HEAD", cwd=repo).strip()
    commit(repo)
    with open_registry(repo) as reg:
        reg.register("model", "HEAD~1", message="first model")
        assert reg.git.resolve_commit("model@v0.0.1") == first
        with pytest.raises(NotACommit, match="'nope' is not a commit"):
            reg.register("other", "nope")
        blob = git("rev-parse", "HEAD:train.py", cwd=repo).strip()
        with pytest.raises(NotACommit):
            reg.register("other", blob)
    assert tags(repo) == ["model@v0.0.1"]
    assert (
        git("tag", "-l", "--format=%(contents)", "model@v0.0.1", cwd=repo).strip() == "first model"
    )


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda reg: reg.register("bad name"), InvalidArtifactName),
        (lambda reg: reg.register("model-"), InvalidArtifactName),
        (lambda reg: reg.register("model", version="1.0.0"), InvalidVersion),
        (lambda reg: reg.register("model", version="v1.0"), InvalidVersion),
        (lambda reg: reg.assign("model", "pr od"), InvalidStage),
        (lambda reg: reg.assign("nope", "prod", version="v0.0.1"), UnknownArtifact),
        (lambda reg: reg.assign("model", "prod", version="v9.9.9"), UnknownVersion),
        (lambda reg: reg.register("model", version="v0.0.1", ref="HEAD~0"), VersionExists),
        (lambda reg: reg.unassign("model", "prod"), NotInStage),
        (lambda reg: reg.deregister("model", "v3.0.0"), UnknownVersion),
        (lambda reg: reg.deprecate("nope"), UnknownArtifact),
    ],
)
def test_bad_input_creates_no_tag(repo: Path, call: object, error: type[Exception]) -> None:
    with open_registry(repo) as reg:
        reg.register("model")
    commit(repo)
    with open_registry(repo) as reg, pytest.raises(error):
        call(reg)  # type: ignore[operator]
    assert tags(repo) == ["model@v0.0.1"]


def test_unknown_artifact_suggests_a_name(repo: Path) -> None:
    with open_registry(repo) as reg:
        reg.register("churn")
        with pytest.raises(UnknownArtifact, match="did you mean 'churn'"):
            reg.latest("chrun")


def test_assign_unassign_and_the_counter(repo: Path) -> None:
    with open_registry(repo) as reg:
        reg.register("model")
    commit(repo)
    with open_registry(repo) as reg:
        reg.register("model")
        assert reg.assign("model", "dev").changes[0].tag == "model#dev#1"
    with open_registry(repo) as reg:
        assert reg.assign("model", "prod", version="v0.0.1").changes[0].tag == "model#prod#2"
    with open_registry(repo) as reg:
        with pytest.raises(VersionExists, match="already in stage prod; --force"):
            reg.assign("model", "prod", version="v0.0.1")
        assert (
            reg.assign("model", "prod", version="v0.0.1", force=True).changes[0].tag
            == "model#prod#3"
        )
    with open_registry(repo) as reg:
        assert reg.which("model", "dev").version == "v0.0.2"
        assert reg.unassign("model", "dev").changes[0].tag == "model#dev!#4"
    with open_registry(repo) as reg:
        with pytest.raises(NotInStage, match="no version of model is in stage 'dev'"):
            reg.unassign("model", "dev")
        with pytest.raises(NotInStage, match="v0.0.2 is not in stage 'prod'"):
            reg.unassign("model", "prod", version="v0.0.2")
        assert reg.which("model", "prod").version == "v0.0.1"
    doc = _doc(repo)
    assert doc == {
        "model": {
            "version": "v0.0.2",
            "stage": {"prod": "v0.0.1"},
            "registered": True,
            "active": True,
        }
    }


def test_assign_at_an_unregistered_commit_registers_it_first(repo: Path) -> None:
    with open_registry(repo) as reg:
        reg.register("model")
    commit(repo)
    with open_registry(repo) as reg:
        changes = reg.assign("model", "staging").changes
    assert [c.tag for c in changes] == ["model@v0.0.2", "model#staging#1"]


def test_same_second_assignments_resolve_by_counter(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2030-01-01T00:00:00+0000")
    with open_registry(repo) as reg:
        reg.register("model")
    commit(repo)
    with open_registry(repo) as reg:
        reg.register("model")
    for version in ["v0.0.1", "v0.0.2", "v0.0.1", "v0.0.2", "v0.0.1"] * 2:
        with open_registry(repo) as reg:
            reg.assign("model", "prod", version=version, force=True)
    with open_registry(repo) as reg:
        assert {e.timestamp for e in reg.state.artifacts["model"].events} == {1893456000}
        assert reg.which("model", "prod").version == "v0.0.1"
        assert reg.which("model", "prod").stages["prod"].activated.tag == "model#prod#10"  # type: ignore[union-attr]
        reg.unassign("model", "prod")
    with open_registry(repo) as reg:
        assert reg.which("model", "prod").version == "v0.0.2"  # still assigned (#9)


def test_deregister_and_deprecate(repo: Path) -> None:
    with open_registry(repo) as reg:
        reg.register("model")
        reg.register("data")
    commit(repo)
    with open_registry(repo) as reg:
        reg.register("model")
    with open_registry(repo) as reg:
        assert reg.deregister("model", "v0.0.2").changes[0].tag == "model@v0.0.2!"
    with open_registry(repo) as reg:
        with pytest.raises(VersionExists, match="already deregistered"):
            reg.deregister("model", "v0.0.2")
        with pytest.raises(VersionExists, match="deregistered"):
            reg.assign("model", "prod", version="v0.0.2")
        assert reg.latest("model").version == "v0.0.1"
        assert reg.deprecate("data").changes[0].tag == "data@deprecated"
    with open_registry(repo) as reg, pytest.raises(VersionExists, match="already deprecated"):
        reg.deprecate("data")
    assert set(_doc(repo)) == {"model"}  # deprecated artifacts leave the table, as in GTO


def test_delete_removes_tags_instead_of_adding_events(repo: Path) -> None:
    with open_registry(repo) as reg:
        reg.register("model")
        reg.register("data")
    with open_registry(repo) as reg:
        reg.assign("model", "prod", version="v0.0.1")
    with open_registry(repo) as reg:
        result = reg.unassign("model", "prod", delete=True)
    assert [c.tag for c in result.changes] == ["model#prod#1"]
    assert result.push_command() == "git push --delete origin 'model#prod#1'"
    with open_registry(repo) as reg:
        reg.assign("model", "prod", version="v0.0.1")
    with open_registry(repo) as reg:
        deleted = {c.tag for c in reg.deregister("model", "v0.0.1", delete=True).changes}
    assert deleted == {"model@v0.0.1", "model#prod#1"}
    with open_registry(repo) as reg:
        reg.deprecate("data", delete=True)
    assert tags(repo) == []


def test_history_orders_by_counter_and_reverses(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2030-01-01T00:00:00+0000")
    with open_registry(repo) as reg:
        reg.register("model")
    for stage in ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"]:
        with open_registry(repo) as reg:
            reg.assign("model", stage, version="v0.0.1")
    with open_registry(repo) as reg:
        events = history_events(reg.state, "model", ascending=True)
        assert [e.tag for e in events][:3] == ["model@v0.0.1", "model#a#1", "model#b#2"]
        assert events[-1].tag == "model#k#11"
        assert history_events(reg.state, "model")[0].tag == "model#k#11"


def test_stray_and_lightweight_tags_give_one_warning(repo: Path) -> None:
    with open_registry(repo) as reg:
        reg.register("model")
    git("tag", "-a", "foo@created", "-m", "GTO crashes on this one", cwd=repo)
    git("tag", "light@v1.0.0", cwd=repo)
    git("tag", "-a", "v2.0.0", "-m", "an ordinary release", cwd=repo)
    with open_registry(repo) as reg:
        assert set(reg.state.artifacts) == {"model"}
        (warning,) = reg.warnings
    assert "foo@created" in warning
    assert "light@v1.0.0 (lightweight" in warning
    assert "v2.0.0" not in warning


def test_monorepo_names(repo: Path) -> None:
    with open_registry(repo) as reg:
        assert reg.register("models/nlp:bert").changes[0].tag == "models/nlp=bert@v0.0.1"
    with open_registry(repo) as reg:
        assert reg.assign("models/nlp:bert", "prod").changes[0].tag == "models/nlp=bert#prod#1"
    with open_registry(repo) as reg:
        assert reg.resolve("models/nlp:bert#prod").version == "v0.0.1"
    assert _doc(repo)["models/nlp:bert"] == {
        "version": "v0.0.1",
        "stage": {"prod": "v0.0.1"},
        "registered": True,
        "active": True,
    }


def test_gto_config_limits_stages_but_used_ones_stay_visible(repo: Path) -> None:
    with open_registry(repo) as reg:
        reg.register("model")
    with open_registry(repo) as reg:
        reg.assign("model", "qa")
    (repo / ".gto").write_text("stages: [dev, prod]\ntypes: [model, dataset]\n")
    with open_registry(repo) as reg:
        with pytest.raises(
            NotAllowed,
            match=r"stage 'staging' is not allowed; allowed stages: dev, prod \(set in .gto\)",
        ):
            reg.assign("model", "staging")
        reg.assign("model", "prod")
        with pytest.raises(NotAllowed, match="allowed types: model, dataset"):
            reg.annotate("model", kind="notebook")
        assert reg.stages() == ["dev", "prod", "qa"]
        assert reg.stages(allowed=True) == ["dev", "prod"]
        assert reg.stages(used=True) == ["prod", "qa"]
    assert _doc(repo)["model"]["stage"] == {"dev": None, "prod": "v0.0.1", "qa": "v0.0.1"}  # type: ignore[index]


def test_roar_config_overrides_gto_file(repo: Path) -> None:
    from roar.config import load_config

    (repo / ".gto").write_text("stages: [dev]\n")
    config = load_config(None, overrides={"registry.stages": "canary, prod"})
    with open_registry(repo, config=config) as reg:
        reg.register("model")
        with pytest.raises(NotAllowed, match="roar setting registry.stages"):
            reg.assign("model", "dev")
        assert reg.assign("model", "canary").changes[0].tag == "model#canary#1"


def test_annotate_describe_and_must_exist(repo: Path) -> None:
    with open_registry(repo) as reg:
        reg.annotate(
            "churn", kind="model", path="models/churn.pkl", description="d", labels=["a", "b"]
        )
    with open_registry(repo) as reg:
        reg.annotate("churn", description="churn classifier", must_exist=True)
        reg.annotate("other", kind="dataset")
    text = (repo / "artifacts.yaml").read_text()
    assert "churn:" in text
    assert "virtual: false" in text
    assert "other:" in text
    with open_registry(repo) as reg:
        doc = reg.describe("churn")
        assert doc["type"] == "model"
        assert doc["labels"] == ["a", "b"]
        assert doc["virtual"] is False
        assert doc["description"] == "churn classifier"
        assert doc["version"] is None
        # An annotated artifact with no tags shows in the table as not registered.
        assert registry_doc(reg.state, reg.rules, reg.index)["churn"]["registered"] is False
        with pytest.raises(Exception, match="must exist at models/churn.pkl"):
            reg.register("churn")
    commit(repo, "models/churn.pkl", "weights")
    git("add", "artifacts.yaml", cwd=repo)
    git("commit", "-qm", "annotate", cwd=repo)
    with open_registry(repo) as reg:
        result = reg.register("churn")
    assert result.digest == hash_bytes(b"weights")
    with open_registry(repo) as reg:
        doc = reg.describe("churn@v0.0.1")
    assert doc["hash"] == hash_bytes(b"weights")
    assert doc["ref"] == "churn@v0.0.1"


def test_annotate_keeps_the_users_comments_and_layout(repo: Path) -> None:
    """Only the annotated entry's lines are rewritten, as GTO does; everything else in
    artifacts.yaml stays as the user wrote it."""
    written = (
        "# Artifacts of the churn project; owners in CODEOWNERS.\n"
        "churn:  # replaced below\n"
        "  type: model\n"
        "  path: models/churn.pkl\n"
        "  notes: |\n"
        "    trained weekly\n"
        "\n"
        "# raw data, refreshed nightly\n"
        "events:\n"
        "  type: dataset   # parquet\n"
        "  labels: [raw, nightly]\n"
        "# end of list\n"
    )
    (repo / "artifacts.yaml").write_text(written)
    with open_registry(repo) as reg:
        reg.annotate("churn", description="churn classifier")
        reg.annotate("scores", kind="dataset", path="out/scores.csv")
    text = (repo / "artifacts.yaml").read_text()
    assert text.startswith("# Artifacts of the churn project; owners in CODEOWNERS.\nchurn:\n")
    untouched = written[written.index("\n# raw data") :]
    assert untouched + "scores:\n  type: dataset\n  path: out/scores.csv\n" in text
    with open_registry(repo) as reg:
        churn = reg.describe("churn")
        assert (churn["type"], churn["path"]) == ("model", "models/churn.pkl")
        assert churn["description"] == "churn classifier"
        assert reg.describe("events")["labels"] == ["raw", "nightly"]
    # a layout the splice cannot place into (flow style) is written out afresh, still valid
    (repo / "artifacts.yaml").write_text("{churn: {type: model}}\n")
    with open_registry(repo) as reg:
        reg.annotate("churn", description="again")
        reg.annotate("churn", labels=["v2"])  # the same session sees the first change
        assert reg.describe("churn")["description"] == "again"
        assert reg.describe("churn")["labels"] == ["v2"]
        assert reg.describe("churn")["type"] == "model"


def test_register_records_the_content_hash(repo: Path) -> None:
    (repo / "untracked.bin").write_bytes(b"model bytes")  # ML outputs are rarely committed
    with open_registry(repo) as reg:
        assert reg.register("a", path="untracked.bin").digest == hash_bytes(b"model bytes")
        assert reg.register("b", path="train.py").digest == hash_bytes(b"print('train')\n")
        assert reg.register("c", digest="AB" * 32).digest == "ab" * 32
        with pytest.raises(Exception, match="--hash expects a 64-digit hex"):
            reg.register("d", digest="xyz")
        with pytest.raises(Exception, match="give the file's hash with --hash"):
            reg.register("e", path="missing.bin")
    message = git("tag", "-l", "--format=%(contents)", "a@v0.0.1", cwd=repo)
    assert message.rstrip().endswith(f"\n\nroar-hash: {hash_bytes(b'model bytes')}")
    with open_registry(repo) as reg:
        assert reg.resolve("a@latest").digest == hash_bytes(b"model bytes")


def test_check_ref(repo: Path) -> None:
    with open_registry(repo) as reg:
        reg.register("model")
    with open_registry(repo) as reg:
        reg.assign("model", "prod")
    with open_registry(repo) as reg:
        event = reg.check_ref("refs/tags/model#prod#1")
        assert event is not None
        assert (event.version, event.stage) == ("v0.0.1", "prod")
        assert reg.check_ref("v1.2.3") is None  # not a registry tag: nothing to do
        with pytest.raises(Exception, match="fetch tags first"):
            reg.check_ref("model#prod#7")


def test_not_a_git_repository(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="not in a git repository"), open_registry(tmp_path) as reg:
        reg.state  # noqa: B018
