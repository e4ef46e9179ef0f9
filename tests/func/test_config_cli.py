"""`roar config` through the CLI, including the refusals."""

from __future__ import annotations

import json
from pathlib import Path

from roar.config import SETTINGS
from tests.helpers import run_roar


def test_list_shows_every_key_with_type_and_description(project: Path) -> None:
    result = run_roar("config", "list", cwd=project)
    assert result.code == 0
    assert "output.track_repo_files" in result.stdout
    assert "Record reads of files tracked by git" in result.stdout
    rows = json.loads(run_roar("config", "list", "--json", cwd=project).stdout)
    assert {r["key"] for r in rows} >= {"store.url", "glaas.url", "filters.ignore_tmp_files"}
    assert all(r["type"] and r["description"] and r["source"] == "default" for r in rows)


def test_set_get_unset_round_trip(project: Path) -> None:
    assert run_roar("config", "set", "glaas.url", "http://127.0.0.1:9", cwd=project).code == 0
    assert run_roar("config", "get", "glaas.url", cwd=project).stdout.strip() == (
        "http://127.0.0.1:9"
    )
    assert run_roar("config", "unset", "glaas.url", cwd=project).code == 0
    assert run_roar("config", "get", "glaas.url", cwd=project).stdout.strip() == ""


def test_global_writes_the_user_file(project: Path, isolated_home: Path) -> None:
    assert run_roar("config", "set", "--global", "output.quiet", "on", cwd=project).code == 0
    assert "quiet = true" in (isolated_home / ".config" / "roar" / "config.toml").read_text()
    rows = json.loads(run_roar("config", "list", "--json", cwd=project).stdout)
    quiet = next(r for r in rows if r["key"] == "output.quiet")
    assert (quiet["value"], quiet["source"]) == (True, "user")


def test_env_and_flag_precedence(project: Path) -> None:
    assert run_roar("config", "set", "output.quiet", "true", cwd=project).code == 0
    env = {"ROAR_OUTPUT_QUIET": "false"}
    assert run_roar("config", "get", "output.quiet", cwd=project, env=env).stdout.strip() == (
        "false"
    )
    flagged = run_roar(
        "-c", "output.quiet=true", "config", "get", "output.quiet", cwd=project, env=env
    )
    assert flagged.stdout.strip() == "true"


def _one_line_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_unknown_key_suggests_and_writes_nothing(project: Path) -> None:
    config_file = project / ".roar" / "config.toml"
    before = config_file.read_bytes()
    result = run_roar("config", "set", "output.quite", "true", cwd=project)
    assert result.code == 4
    line = _one_line_error(result.stderr)
    assert "did you mean 'output.quiet'" in line
    assert config_file.read_bytes() == before


def test_wrong_type_is_refused_and_writes_nothing(project: Path) -> None:
    config_file = project / ".roar" / "config.toml"
    assert run_roar("config", "set", "output.quiet", "true", cwd=project).code == 0
    before = config_file.read_bytes()
    result = run_roar("config", "set", "output.quiet", "sometimes", cwd=project)
    assert result.code == 4
    assert "expects a boolean" in _one_line_error(result.stderr)
    assert config_file.read_bytes() == before


def test_outside_a_project_says_run_init(tmp_path: Path) -> None:
    for args in (("config", "set", "output.quiet", "true"), ("config", "unset", "output.quiet")):
        result = run_roar(*args, cwd=tmp_path)
        assert result.code == 3
        assert "run `roar init`" in _one_line_error(result.stderr)
    assert not (tmp_path / ".roar").exists()


def test_list_works_outside_a_project(tmp_path: Path) -> None:
    assert run_roar("config", "list", cwd=tmp_path).code == 0


def test_corrupt_config_file_is_named(project: Path) -> None:
    (project / ".roar" / "config.toml").write_text("[output\n")
    result = run_roar("config", "list", cwd=project)
    assert result.code == 4
    assert "config.toml is not valid TOML" in _one_line_error(result.stderr)


def test_bad_override_flag_is_a_usage_error(project: Path) -> None:
    result = run_roar("-c", "output.quiet", "config", "list", cwd=project)
    assert result.code == 2
    assert "KEY=VALUE" in _one_line_error(result.stderr)


def test_every_setting_is_in_the_readme_table() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for key, setting in SETTINGS.items():
        assert f"| `{key}` | {setting.type_name} |" in readme, f"README lacks {key}"
