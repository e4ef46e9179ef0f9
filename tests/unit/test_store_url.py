"""Store URLs: SQLite paths (percent-escapes decoded) and PostgreSQL URIs."""

from __future__ import annotations

import pytest

from roar.errors import StoreUnavailable
from roar.store.url import parse_store_url


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///rel/roar.db", "rel/roar.db"),
        ("sqlite:////abs/roar.db", "/abs/roar.db"),
        ("sqlite+pysqlite:////abs/my%20data/roar.db", "/abs/my data/roar.db"),
        ("sqlite:////abs/100%25/roar.db", "/abs/100%/roar.db"),
    ],
)
def test_sqlite_paths(url: str, path: str) -> None:
    parsed = parse_store_url(url)
    assert (parsed.kind, parsed.target, parsed.display) == ("sqlite", path, path)


def test_postgres_uri_is_normalised_and_its_password_hidden() -> None:
    parsed = parse_store_url("postgres://me:secret@127.0.0.1:5433/roar")
    assert parsed.kind == "postgresql"
    assert parsed.target == "postgresql://me:secret@127.0.0.1:5433/roar"
    assert parsed.url == "postgresql+psycopg://me:secret@127.0.0.1:5433/roar"
    assert "secret" not in parsed.display


@pytest.mark.parametrize("url", ["roar.db", "sqlite://", "mysql://x/y"])
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(StoreUnavailable):
        parse_store_url(url)
