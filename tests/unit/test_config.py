"""Layered settings: parsing, precedence, suggestions and refusing bad writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from roar.config import (
    SETTINGS,
    env_var_name,
    load_config,
    parse_value,
    set_value,
    unset_value,
    user_config_path,
)
from roar.errors import CorruptConfigFile, InvalidConfigValue, UnknownConfigKey

DESIGN_KEYS = {
    "output.track_repo_files": False,
    "output.quiet": False,
    "filters.ignore_system_reads": True,
    "filters.ignore_package_reads": True,
    "filters.ignore_torch_cache": True,
    "filters.ignore_tmp_files": True,
    "hash.early": True,
    "reproduce.collect_sources": False,
    "reproduce.collect_max_mb": 1024,
    "glaas.url": None,
    "store.url": None,
    "tasks.staleness_days": 30,
    "notify.enabled": False,
    "notify.url": None,
    "checkpoints.url": None,
    "checkpoints.s3_endpoint_url": None,
    "checkpoints.s3_region": None,
    "checkpoints.timeout": 30,
    "checkpoints.max_retries": 3,
    "checkpoints.cache_dir": None,
    "registry.stages": None,
    "registry.types": None,
}


def test_every_design_key_exists_with_its_default() -> None:
    assert {k: s.default for k, s in SETTINGS.items()} == DESIGN_KEYS
    assert all(s.description for s in SETTINGS.values())


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("true", True), ("Yes", True), ("1", True), ("off", False), ("FALSE", False)],
)
def test_bool_parsing(raw: str, expected: bool) -> None:
    assert parse_value("output.quiet", raw) is expected


def test_bad_bool_is_rejected_with_the_expected_type() -> None:
    with pytest.raises(InvalidConfigValue, match="expects a boolean"):
        parse_value("output.quiet", "maybe")


def test_url_must_have_a_scheme() -> None:
    with pytest.raises(InvalidConfigValue, match="URL"):
        parse_value("glaas.url", "localhost")
    assert parse_value("glaas.url", "https://lineage.example") == "https://lineage.example"


@pytest.mark.parametrize(
    ("typo", "suggestion"),
    [("output.quite", "output.quiet"), ("quiet", "output.quiet"), ("store.ulr", "store.url")],
)
def test_unknown_key_suggests_the_nearest(typo: str, suggestion: str) -> None:
    with pytest.raises(UnknownConfigKey, match=f"did you mean '{suggestion}'"):
        parse_value(typo, "true")


def test_layers_apply_in_order(tmp_path: Path, isolated_home: Path) -> None:
    project = tmp_path / "proj"
    (project / ".roar").mkdir(parents=True)
    set_value(user_config_path(), "output.quiet", "true")
    set_value(user_config_path(), "filters.ignore_tmp_files", "false")
    set_value(project / ".roar" / "config.toml", "filters.ignore_tmp_files", "true")
    set_value(project / ".roar" / "config.toml", "filters.ignore_torch_cache", "false")

    env = {
        "HOME": str(isolated_home),
        env_var_name("filters.ignore_torch_cache"): "true",
        env_var_name("glaas.url"): "http://env",
    }
    config = load_config(project, environ=env, overrides={"glaas.url": "http://flag"})

    assert (config.values["output.quiet"].value, config.values["output.quiet"].source) == (
        True,
        "user",
    )
    assert config.values["filters.ignore_tmp_files"].source == "project"
    assert config.get("filters.ignore_tmp_files") is True
    assert config.values["filters.ignore_torch_cache"].source == "env"
    assert config.get("filters.ignore_torch_cache") is True
    assert config.values["glaas.url"].source == "flag"
    assert config.get("glaas.url") == "http://flag"
    assert config.values["output.track_repo_files"].source == "default"


def test_bad_env_value_is_rejected() -> None:
    with pytest.raises(InvalidConfigValue):
        load_config(None, environ={"ROAR_OUTPUT_QUIET": "perhaps"})


def test_rejected_set_leaves_the_file_byte_for_byte(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    set_value(path, "output.quiet", "true")
    before = path.read_bytes()
    with pytest.raises(InvalidConfigValue):
        set_value(path, "output.quiet", "not-a-bool")
    with pytest.raises(UnknownConfigKey):
        set_value(path, "output.loud", "true")
    assert path.read_bytes() == before


def test_unset_removes_only_that_key(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    set_value(path, "output.quiet", "true")
    set_value(path, "glaas.url", "http://x")
    assert unset_value(path, "output.quiet") is True
    assert unset_value(path, "output.quiet") is False
    config_text = path.read_text()
    assert "quiet" not in config_text
    assert "glaas" in config_text


def test_corrupt_file_names_the_file(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    (project / ".roar").mkdir(parents=True)
    bad = project / ".roar" / "config.toml"
    bad.write_text("[output\nquiet = ")
    with pytest.raises(CorruptConfigFile, match=str(bad)):
        load_config(project, environ={})


def test_wrong_type_in_file_names_key_and_file(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    (project / ".roar").mkdir(parents=True)
    (project / ".roar" / "config.toml").write_text('[output]\nquiet = "loud"\n')
    with pytest.raises(InvalidConfigValue, match=r"output\.quiet.*config\.toml"):
        load_config(project, environ={})


def test_unknown_key_in_file_is_a_warning_not_a_failure(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    (project / ".roar").mkdir(parents=True)
    (project / ".roar" / "config.toml").write_text("[output]\nquite = true\n")
    config = load_config(project, environ={})
    assert any("output.quite" in w and "output.quiet" in w for w in config.warnings)


@pytest.mark.parametrize(
    ("text", "shortcut"),
    [
        ("", True),
        ("\n\n", True),
        ("# a comment\n  # indented\n\t\n", True),
        ("# windows\r\n\r\n", True),
        ("# bad byte \x01 in a comment\n", False),
        ("# lone CR \r in a comment\n", False),
        ("# del \x7f\n", False),
        ("[output]\n", False),
        ("# c\n[output]\nquiet = true\n", False),
        ("\ufeff# a BOM\n", False),
        ("x", False),
    ],
)
def test_comment_only_files_skip_the_parser_and_agree_with_it(text: str, shortcut: bool) -> None:
    """A file of blank lines and comments (what `roar init` writes) is read as empty
    without tomllib; whenever that shortcut is taken, tomllib would have said the same."""
    import tomllib

    from roar.config import _only_comments

    assert _only_comments(text) is shortcut
    if shortcut:
        assert tomllib.loads(text) == {}


def test_a_control_character_in_a_comment_is_still_a_corrupt_file(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    (project / ".roar").mkdir(parents=True)
    bad = project / ".roar" / "config.toml"
    bad.write_text("# roar settings\n# a stray \x01 byte\n")
    with pytest.raises(CorruptConfigFile, match=str(bad)):
        load_config(project, environ={})


def test_the_file_roar_init_writes_needs_no_parser(tmp_path: Path) -> None:
    from roar.config import _only_comments
    from roar.project import init_project

    init_project(tmp_path)
    text = (tmp_path / ".roar" / "config.toml").read_text(encoding="utf-8")
    assert text
    assert _only_comments(text)
