"""The CLI as a whole: help text everywhere, documented commands, fast start, one funnel."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

from roar.cli.main import COMMANDS, cli, main
from roar.errors import EXIT_INTERNAL
from tests.helpers import ROAR, run_roar

README = Path(__file__).resolve().parents[2] / "README.md"


def _all_commands() -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []
    ctx = click.Context(cli)
    for name in cli.list_commands(ctx):
        command = cli.get_command(ctx, name)
        assert command is not None
        found.append((name, command))
        if isinstance(command, click.Group):
            for sub in command.list_commands(ctx):
                subcommand = command.get_command(ctx, sub)
                assert subcommand is not None
                found.append((f"{name} {sub}", subcommand))
    return found


def test_every_command_and_option_has_help() -> None:
    for name, command in _all_commands():
        assert command.help, f"`roar {name}` has no help text"
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"`roar {name}` option {param.opts} has no help text"
    for param in cli.params:
        assert not isinstance(param, click.Option) or param.help or param.name == "version"


def test_every_command_is_documented_in_the_readme() -> None:
    text = README.read_text()
    for name, _ in _all_commands():
        assert f"roar {name}" in text, f"README does not mention `roar {name}`"


def test_lazy_help_lines_match_the_commands() -> None:
    for name, (_, short) in COMMANDS.items():
        command = cli.get_command(click.Context(cli), name)
        assert command is not None
        assert short, name


def _imported_after(args: list[str], cwd: Path) -> set[str]:
    probe = (
        "import sys, json\n"
        "from roar.cli.main import main\n"
        f"sys.argv = ['roar', *{args!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(json.dumps(sorted(m.split('.')[0] for m in sys.modules)), file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], cwd=cwd, capture_output=True, text=True, check=True
    )
    return set(json.loads(proc.stderr.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    "args", [["--help"], ["config", "list"], ["config", "get", "output.quiet"]]
)
def test_light_commands_do_not_import_heavy_modules(args: list[str], project: Path) -> None:
    heavy = {"sqlalchemy", "alembic", "blake3", "rich", "psycopg", "sqlite3"}
    assert _imported_after(args, project) & heavy == set()


def test_store_commands_do_not_import_sqlalchemy(project: Path) -> None:
    """SQLAlchemy and Alembic cost ~0.5 s to import: only migrations may load them."""
    (project / "f").write_bytes(b"x")
    loaded = _imported_after(["hash", "f"], project)
    assert "_sqlite3" in loaded  # the store really was opened
    assert loaded & {"sqlalchemy", "alembic"} == set()


def test_version() -> None:
    assert run_roar("--version", cwd=Path.cwd()).stdout.startswith("roar, version")


def test_unknown_command_is_a_usage_error(tmp_path: Path) -> None:
    result = run_roar("frobnicate", cwd=tmp_path)
    assert result.code == 2
    assert "No such command" in result.stderr


def test_unexpected_errors_exit_70_with_a_hint(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from roar.hashing import Hasher

    def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(Hasher, "hash_paths", explode)
    (tmp_path / "f").write_bytes(b"x")
    with pytest.raises(SystemExit) as exited:
        main(["-C", str(tmp_path), "hash", "f"])
    assert exited.value.code == EXIT_INTERNAL
    err = capsys.readouterr().err
    assert "unexpected error: RuntimeError: boom; rerun with --traceback" in err
    assert "Traceback" not in err

    with pytest.raises(SystemExit):
        main(["--traceback", "-C", str(tmp_path), "hash", "f"])
    assert "Traceback" in capsys.readouterr().err


def test_directory_option(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"abc")
    result = subprocess.run(
        [ROAR, "-C", str(tmp_path), "hash", "f"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    assert result.stdout.endswith("  f\n")
