"""roar's libpq adapter against a real PostgreSQL server: values, pipelines, failures."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

from roar.errors import StoreUnavailable
from roar.store import libpq
from roar.store.db import PostgresDatabase
from roar.store.errors import IntegrityViolation
from roar.store.url import parse_store_url
from tests.postgres import PostgresServer


@pytest.fixture
def database(postgres_server: PostgresServer) -> Iterator[PostgresDatabase]:
    postgres_server.admin("DROP DATABASE IF EXISTS libpq_test WITH (FORCE)")
    postgres_server.admin("CREATE DATABASE libpq_test")
    db = PostgresDatabase(parse_store_url(postgres_server.url("libpq_test")))
    try:
        yield db
    finally:
        db.close()
        postgres_server.admin("DROP DATABASE libpq_test WITH (FORCE)")


def test_values_round_trip_with_their_python_types(database: PostgresDatabase) -> None:
    with database.write() as cur:
        cur.execute(
            "CREATE TABLE t (i BIGINT, f DOUBLE PRECISION, b BOOLEAN, s TEXT, j JSON, y BYTEA)"
        )
        rows = [
            (2**62, 0.1, True, "tab\there, newline\n, quote ' \" and ?", '{"k": [1]}', b"\x00\xff"),
            (-1, math.inf, False, "", "[]", b""),
            (None, None, None, None, None, None),
        ]
        cur.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?)", rows)
    with database.read() as cur:
        got = cur.execute("SELECT i, f, b, s, j, y FROM t ORDER BY i NULLS LAST").fetchall()
        nan = cur.execute("SELECT ?::float8", (math.nan,)).scalar()
        count = cur.execute("SELECT count(*), sum(i) FROM t").fetchone()
    assert got == [rows[1], rows[0], rows[2]]  # '' stays '', NULL stays None
    assert math.isnan(nan)
    assert count == (3, 2**62 - 1)


def test_unicode_and_rowcount(database: PostgresDatabase) -> None:
    with database.write() as cur:
        cur.execute("CREATE TABLE u (s TEXT PRIMARY KEY)")
        cur.executemany("INSERT INTO u VALUES (?)", [("é✓ 名前",), ("b",), ("c",)])
        assert cur.execute("DELETE FROM u WHERE s <> ?", ("b",)).rowcount == 2
    with database.read() as cur:
        assert cur.execute("SELECT s FROM u").fetchall() == [("b",)]


def test_a_bad_row_in_a_long_pipeline_rolls_back_every_row(database: PostgresDatabase) -> None:
    with database.write() as cur:
        cur.execute("CREATE TABLE p (n INTEGER PRIMARY KEY)")
    rows = [(n,) for n in range(2500)] + [(1234,)] + [(n,) for n in range(2500, 2600)]
    with pytest.raises(IntegrityViolation, match="duplicate key"), database.write() as cur:
        cur.executemany("INSERT INTO p VALUES (?)", rows)
    with database.write() as cur:  # the connection is usable again, and nothing was kept
        assert cur.execute("SELECT count(*) FROM p").scalar() == 0
        cur.executemany("INSERT INTO p VALUES (?)", rows[:2500])
        assert cur.execute("SELECT count(*) FROM p").scalar() == 2500


def test_notices_do_not_reach_stderr(
    database: PostgresDatabase, capfd: pytest.CaptureFixture[str]
) -> None:
    with database.write() as cur:
        cur.execute("DROP TABLE IF EXISTS no_such_table")  # the server sends a NOTICE
    assert capfd.readouterr().err == ""


def test_a_killed_backend_is_a_store_error_not_a_hang(
    database: PostgresDatabase, postgres_server: PostgresServer
) -> None:
    with database.read() as cur:
        pid = cur.execute("SELECT pg_backend_pid()").scalar()
    postgres_server.admin(f"SELECT pg_terminate_backend({int(pid)})")
    with pytest.raises(StoreUnavailable, match="terminat|closed"), database.read() as cur:
        cur.execute("SELECT 1")


def test_syntax_errors_carry_the_server_message(database: PostgresDatabase) -> None:
    with pytest.raises(StoreUnavailable, match="syntax error") as caught, database.read() as cur:
        cur.execute("SELEC 1")
    assert "\n" not in str(caught.value)


def test_bundled_libpq_is_used_when_the_system_has_none(
    monkeypatch: pytest.MonkeyPatch, postgres_server: PostgresServer
) -> None:
    if not libpq._bundled_candidates():
        pytest.fail("psycopg-binary's bundled libpq not found; `make test` installs it")
    monkeypatch.setattr(libpq, "_SYSTEM_NAMES", ("libpq-that-does-not-exist.so.5",))
    monkeypatch.setattr(libpq, "_lib", None)
    db = PostgresDatabase(parse_store_url(postgres_server.url("postgres")))
    try:
        with db.read() as cur:
            assert cur.execute("SELECT 1 + ?", (1,)).scalar() == 2
    finally:
        db.close()


def test_no_libpq_at_all_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, postgres_server: PostgresServer
) -> None:
    monkeypatch.setattr(libpq, "_SYSTEM_NAMES", ("libpq-that-does-not-exist.so.5",))
    monkeypatch.setattr(libpq, "_bundled_candidates", list)
    monkeypatch.setattr(libpq, "_lib", None)
    with pytest.raises(StoreUnavailable, match="libpq was not found.*apt install libpq5"):
        PostgresDatabase(parse_store_url(postgres_server.url("postgres")))
