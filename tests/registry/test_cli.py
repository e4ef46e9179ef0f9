"""`roar registry ...` as people type it: output, exit codes, one-line errors, no stray tags."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from roar.cli.main import main
from tests.helpers import Result, git, run_roar
from tests.registry.conftest import commit, tags

Roar = Callable[..., Result]


@pytest.fixture
def roar(capsys: pytest.CaptureFixture[str]) -> Roar:
    """The CLI in this process (fast); `run_roar` covers the real console script."""

    def call(*args: str, cwd: Path) -> Result:
        with pytest.raises(SystemExit) as exited:
            main(["-C", str(cwd), "registry", *args])
        out = capsys.readouterr()
        return Result(int(exited.value.code or 0), out.out, out.err)

    return call


def ok(roar: Roar, *args: str, cwd: Path) -> str:
    result = roar(*args, cwd=cwd)
    assert result.code == 0, (args, result.stderr)
    return result.stdout


@pytest.fixture
def promoted(repo: Path, roar: Roar) -> Path:
    """model v0.0.1 in prod, v0.0.2 (latest) in dev; data v1.0.0."""
    ok(roar, "register", "model", cwd=repo)
    ok(roar, "register", "data", "--version", "v1.0.0", cwd=repo)
    commit(repo)
    ok(roar, "register", "model", cwd=repo)
    ok(roar, "assign", "model", "dev", cwd=repo)
    ok(roar, "promote", "model", "prod", "--version", "v0.0.1", cwd=repo)
    return repo


def test_write_commands_say_what_they_did(repo: Path, roar: Roar) -> None:
    result = roar("register", "model", cwd=repo)
    assert result.stdout == "created tag model@v0.0.1: registers model v0.0.1\n"
    assert "to publish: git push origin model@v0.0.1" in result.stderr
    assert ok(roar, "assign", "model", "prod", cwd=repo) == (
        "created tag model#prod#1: assigns stage prod to model v0.0.1\n"
    )
    assert "unassigns stage prod from model v0.0.1" in ok(
        roar, "unassign", "model", "prod", cwd=repo
    )
    assert "deregisters model v0.0.1" in ok(roar, "deregister", "model", "v0.0.1", cwd=repo)
    result = roar("deprecate", "model", "--delete", cwd=repo)
    assert "deleted tag model@v0.0.1 (registration of model v0.0.1)" in result.stdout
    assert "git push --delete origin" in result.stderr
    assert tags(repo) == []


def test_show_table_and_versions(promoted: Path, roar: Roar) -> None:
    table = ok(roar, "show", cwd=promoted).splitlines()
    assert table[0].split() == ["name", "latest", "#dev", "#prod"]
    assert table[1].split() == ["data", "v1.0.0", "-", "-"]
    assert table[2].split() == ["model", "v0.0.2", "v0.0.2", "v0.0.1"]
    versions = ok(roar, "show", "model", "--plain", cwd=promoted).splitlines()
    assert versions[0].split("\t") == ["artifact", "version", "stage", "created_at", "ref", "hash"]
    assert [line.split("\t")[1:3] for line in versions[1:]] == [
        ["v0.0.2", "dev"],
        ["v0.0.1", "prod"],
    ]
    assert ok(roar, "show", "model#prod", "--plain", cwd=promoted).count("\n") == 2
    doc = json.loads(ok(roar, "show", "model@latest", "--json", cwd=promoted))
    assert [v["version"] for v in doc] == ["v0.0.2"]
    assert doc[0]["stages"][0]["ref"] == "model#dev#1"
    assert json.loads(ok(roar, "show", "--json", "--ls", cwd=promoted))["model"]["stage"] == {
        "dev": "v0.0.2",
        "prod": "v0.0.1",
    }


def test_history(promoted: Path, roar: Roar) -> None:
    lines = ok(roar, "history", "model", "--plain", cwd=promoted).splitlines()
    assert [line.split("\t")[6] for line in lines[1:]] == [
        "model#prod#2",
        "model#dev#1",
        "model@v0.0.2",
        "model@v0.0.1",
    ]
    events = json.loads(ok(roar, "history", "--json", "--asc", cwd=promoted))
    assert [e["ref"] for e in events][-2:] == ["model#dev#1", "model#prod#2"]
    assert {e["artifact"] for e in events} == {"model", "data"}


def test_latest_which_and_refs(promoted: Path, roar: Roar) -> None:
    assert ok(roar, "latest", "model", cwd=promoted) == "v0.0.2\n"
    assert ok(roar, "latest", "model", "--ref", cwd=promoted) == "model@v0.0.2\n"
    assert ok(roar, "which", "model", "prod", cwd=promoted) == "v0.0.1\n"
    assert ok(roar, "which", "model", "dev", "--ref", cwd=promoted) == "model#dev#1\n"
    ok(roar, "assign", "model", "prod", cwd=promoted)  # v0.0.2 now last went to prod
    assert ok(roar, "which", "model", "prod", cwd=promoted) == "v0.0.2\n"
    result = roar("which", "model", "dev", "--last", cwd=promoted)
    assert result.code == 10
    assert "no version of model is in stage 'dev'" in result.stderr


def test_check_ref_for_ci(promoted: Path, roar: Roar) -> None:
    doc = json.loads(ok(roar, "check-ref", "refs/tags/model#prod#2", "--json", cwd=promoted))
    assert (doc["event"], doc["version"], doc["stage"]) == ("assignment", "v0.0.1", "prod")
    assert ok(roar, "check-ref", "model@v0.0.2", cwd=promoted) == "model registration v0.0.2\n"
    assert json.loads(ok(roar, "check-ref", "release-1.0", "--json", cwd=promoted)) == {}


def test_stages_describe_annotate(promoted: Path, roar: Roar) -> None:
    assert ok(roar, "stages", cwd=promoted).split() == ["dev", "prod"]
    (promoted / ".gto").write_text("stages: [dev, staging, prod]\n")
    assert ok(roar, "stages", "--allowed", cwd=promoted).split() == ["dev", "staging", "prod"]
    assert ok(roar, "stages", "--used", cwd=promoted).split() == ["dev", "prod"]
    ok(
        roar,
        "annotate",
        "model",
        "--type",
        "model",
        "--path",
        "model.pkl",
        "--label",
        "nlp",
        cwd=promoted,
    )
    doc = json.loads(ok(roar, "describe", "model", cwd=promoted))
    assert (doc["type"], doc["path"], doc["labels"], doc["version"]) == (
        "model",
        "model.pkl",
        ["nlp"],
        "v0.0.2",
    )
    doc = json.loads(ok(roar, "describe", "model@v0.0.1", cwd=promoted))
    assert (doc["type"], doc["version"], doc["stages"]) == (
        None,
        "v0.0.1",
        ["prod"],
    )  # not committed then


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (("register", "bad name"), 2, "write [dir:]name"),
        (("register", "model", "--version", "1.0"), 2, "SemVer 2.0 with a leading v"),
        (("register", "model", "--version", "v1.0.0", "--bump-minor"), 2, "not both"),
        (("assign", "model", "pr od"), 2, "a stage is letters, digits"),
        (("register", "model", "--version", "v0.0.1"), 10, "model v0.0.1 already exists"),
        (("register", "model", "no-such-ref"), 10, "'no-such-ref' is not a commit"),
        (("assign", "model", "staging"), 10, "allowed stages: dev, prod (set in .gto)"),
        (("assign", "nope", "prod"), 10, "no artifact 'nope' in the registry"),
        (("assign", "model", "prod", "--version", "v7.0.0"), 10, "model has no version v7.0.0"),
        (("unassign", "model", "prod"), 10, "no version of model is in stage 'prod'"),
        (("latest", "nope"), 10, "no artifact 'nope'"),
        (("show", "model@v9.9.9"), 10, "model has no version v9.9.9"),
    ],
)
def test_bad_input_is_one_line_and_creates_no_tag(
    repo: Path, roar: Roar, args: tuple[str, ...], code: int, words: str
) -> None:
    ok(roar, "register", "model", cwd=repo)
    commit(repo)
    (repo / ".gto").write_text("stages: [dev, prod]\n")
    result = roar(*args, cwd=repo)
    assert (result.code, result.stdout) == (code, "")
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert words in result.stderr
    assert tags(repo) == ["model@v0.0.1"]


def test_the_console_script_and_a_stray_tag(repo: Path) -> None:
    git("tag", "-a", "foo@created", "-m", "stray", cwd=repo)
    assert run_roar("registry", "register", "model", cwd=repo).code == 0
    result = run_roar("registry", "show", "--json", cwd=repo)
    assert result.code == 0
    assert list(json.loads(result.stdout)) == ["model"]
    assert result.stderr.count("warning") == 1
    assert "foo@created (not in the GTO tag grammar)" in result.stderr


def test_remote_repository_and_push(tmp_path: Path, roar: Roar) -> None:
    remote = tmp_path / "remote.git"
    git("init", "-q", "--bare", str(remote), cwd=tmp_path)
    work = tmp_path / "work"
    git("clone", "-q", str(remote), str(work), cwd=tmp_path)
    commit(work)
    git("push", "-q", "origin", "HEAD", cwd=work)
    url = remote.as_uri()

    result = roar("register", "model", "--push", cwd=work)
    assert "pushed to origin" in result.stderr
    assert "model@v0.0.1" in git("ls-remote", "--tags", str(remote), cwd=tmp_path)
    # A URL is cloned for the command; what it writes goes back to the URL.
    result = roar("assign", "model", "prod", "--repo", url, cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert f"pushed to {url}" in result.stderr
    assert "model#prod#1" in git("ls-remote", "--tags", str(remote), cwd=tmp_path)
    assert tags(work) == ["model@v0.0.1"]
    shown = json.loads(ok(roar, "show", "--json", "--repo", url, cwd=tmp_path))
    assert shown["model"]["stage"] == {"prod": "v0.0.1"}
    # A local bare repository is read in place.
    assert ok(roar, "which", "model", "prod", "--repo", str(remote), cwd=tmp_path) == "v0.0.1\n"
    ok(roar, "unassign", "model", "prod", "--delete", "--repo", url, cwd=tmp_path)
    assert "model#prod#1" not in git("ls-remote", "--tags", str(remote), cwd=tmp_path)


def test_push_failure_keeps_the_local_tag_and_says_how_to_retry(repo: Path, roar: Roar) -> None:
    result = roar("register", "model", "--push", cwd=repo)
    assert result.code == 10
    assert "created model@v0.0.1 here, but the push failed" in result.stderr
    assert "git push origin model@v0.0.1" in result.stderr
    assert tags(repo) == ["model@v0.0.1"]


def test_reads_import_nothing_heavy(promoted: Path) -> None:
    """`roar registry show` must start fast: no SQLAlchemy, sqlite3, blake3, rich or YAML."""
    probe = (
        "import sys, json\n"
        "from roar.cli.main import main\n"
        "sys.argv = ['roar', 'registry', 'show']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(json.dumps(sorted(m.split('.')[0] for m in sys.modules)), file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], cwd=promoted, capture_output=True, text=True, check=True
    )
    loaded = set(json.loads(proc.stderr.strip().splitlines()[-1]))
    assert loaded & {"sqlalchemy", "sqlite3", "blake3", "rich", "yaml"} == set()


def test_same_second_promotions_resolve_by_counter(
    repo: Path, roar: Roar, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2030-01-01T00:00:00+0000")
    ok(roar, "register", "model", cwd=repo)
    commit(repo)
    ok(roar, "register", "model", cwd=repo)
    for version in ("v0.0.2", "v0.0.1", "v0.0.2", "v0.0.1"):
        ok(roar, "promote", "model", "prod", "--version", version, "--force", cwd=repo)
    assert ok(roar, "which", "model", "prod", "--ref", cwd=repo) == "model#prod#4\n"
    assert ok(roar, "which", "model", "prod", cwd=repo) == "v0.0.1\n"
    dates = git("tag", "-l", "--format=%(taggerdate:unix)", cwd=repo).split()
    assert set(dates) == {"1893456000"}
