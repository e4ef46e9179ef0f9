"""Every store test runs twice: on a real SQLite file and on a real PostgreSQL server."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from roar.store import Store, sqlite_url
from tests.helpers import IN_CI
from tests.postgres import PostgresServer, find_pg_bindir, running_postgres

_db_numbers = itertools.count()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bindir = find_pg_bindir()
    if bindir is None:
        reason = "PostgreSQL server binaries not found; install postgresql-15 (make test does)"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    with running_postgres(bindir) as server:
        yield server


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "roar.db")
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"roar_test_{next(_db_numbers)}"
    server.admin(f"CREATE DATABASE {name}")
    try:
        yield server.url(name)
    finally:
        server.admin(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with Store.open(store_url, create=True) as opened:
        yield opened
