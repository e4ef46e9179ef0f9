"""`store.url` end to end: a project whose records live in PostgreSQL."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.helpers import run_roar
from tests.postgres import PostgresServer


def test_init_and_cached_hash_on_postgres(postgres_server: PostgresServer, tmp_path: Path) -> None:
    postgres_server.admin("CREATE DATABASE roar_cli")
    try:
        url = postgres_server.url("roar_cli")
        env = {"ROAR_STORE_URL": url}
        assert run_roar("init", cwd=tmp_path, env=env).code == 0
        assert not (tmp_path / ".roar" / "roar.db").exists()  # nothing went to SQLite
        (tmp_path / "f").write_bytes(b"on postgres")
        time.sleep(2.1)  # outside the racy window, so the first pass fills the cache
        first = run_roar("hash", "--json", "f", cwd=tmp_path, env=env)
        second = run_roar("hash", "--json", "f", cwd=tmp_path, env=env)
        assert json.loads(first.stdout)[0]["cached"] is False
        assert json.loads(second.stdout)[0]["cached"] is True
    finally:
        postgres_server.admin("DROP DATABASE roar_cli WITH (FORCE)")
