"""A damaged or too-new roar.db: one clear line, a documented exit code, nothing written."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

import pytest

from tests.helpers import run_roar


def _digest_dir(path: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(path.iterdir())
        if p.is_file()
    }


def _assert_one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.mark.parametrize("command", [("hash", "f"), ("init",)])
def test_garbage_database_is_named_without_traceback(
    project: Path, command: tuple[str, ...]
) -> None:
    (project / "f").write_bytes(b"x")
    db = project / ".roar" / "roar.db"
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    db.write_bytes(os.urandom(8192))
    before = _digest_dir(project / ".roar")
    result = run_roar(*command, cwd=project)
    assert result.code == 5
    line = _assert_one_line(result.stderr)
    assert str(db) in line
    assert "not a readable roar database" in line
    assert _digest_dir(project / ".roar") == before


def test_truncated_database_page_is_reported(project: Path) -> None:
    db = project / ".roar" / "roar.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(db.read_bytes())
    data[4096:] = os.urandom(len(data) - 4096)  # keep the header, ruin every other page
    db.write_bytes(bytes(data))
    (project / "f").write_bytes(b"x")
    result = run_roar("hash", "f", cwd=project)
    assert result.code == 5
    assert str(db) in _assert_one_line(result.stderr)


def test_newer_schema_is_refused_and_left_alone(project: Path) -> None:
    db = project / ".roar" / "roar.db"
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_future'")
        conn.commit()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = db.read_bytes()
    (project / "f").write_bytes(b"x")
    for command in (("hash", "f"), ("init",)):
        result = run_roar(*command, cwd=project)
        assert result.code == 5
        line = _assert_one_line(result.stderr)
        assert "9999_future" in line
        assert "upgrade roar" in line
    assert db.read_bytes() == before


def test_database_without_schema_says_run_init(project: Path) -> None:
    db = project / ".roar" / "roar.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    sqlite3.connect(db).close()  # an empty but valid SQLite file
    (project / "f").write_bytes(b"x")
    result = run_roar("hash", "f", cwd=project)
    assert result.code == 5
    assert "run `roar init`" in _assert_one_line(result.stderr)
    assert run_roar("init", cwd=project).code == 0
    assert run_roar("hash", "f", cwd=project).code == 0


def test_unreachable_postgres_url_is_one_line(project: Path) -> None:
    url = "postgresql+psycopg://roar:secret@127.0.0.1:9/none"
    assert run_roar("config", "set", "store.url", url, cwd=project).code == 0
    (project / "f").write_bytes(b"x")
    result = run_roar("hash", "f", cwd=project)
    assert result.code == 5
    line = _assert_one_line(result.stderr)
    assert "cannot use the store at postgresql+psycopg://roar:***@127.0.0.1:9/none" in line
    assert "secret" not in result.stderr
