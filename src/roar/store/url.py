"""Store URLs, in SQLAlchemy's spelling so Alembic can use the same string.

sqlite:///relative/or/abs/path.db, sqlite+pysqlite:////abs/path.db
postgresql://user:pw@host:port/db, postgresql+psycopg://..., postgres://...
"""

from __future__ import annotations

from pathlib import Path

from roar.errors import StoreUnavailable
from roar.named_tuple import NamedTuple

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Literal

__all__ = ["StoreUrl", "parse_store_url", "redact_url", "sqlite_url"]


class StoreUrl(NamedTuple):
    kind: Literal["sqlite", "postgresql"]
    url: str  # SQLAlchemy form, for Alembic
    target: str  # a file path (sqlite) or a libpq URI (postgresql)
    display: str  # safe to print: no password

    @property
    def sqlite_path(self) -> Path:
        return Path(self.target)


def sqlite_url(path: Path) -> str:
    return f"sqlite+pysqlite:///{path}"


def redact_url(url: str) -> str:
    """Hide a password before a URL reaches a terminal or a log."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in credentials:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


def parse_store_url(url: str) -> StoreUrl:
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise StoreUnavailable("not a database URL (expected scheme://...)", location=url)
    backend = scheme.split("+", 1)[0].lower()
    if backend == "sqlite":
        path = rest[1:] if rest.startswith("/") else rest
        if "%" in path:  # urllib costs every `roar run` milliseconds to import; rarely needed
            from urllib.parse import unquote

            path = unquote(path)
        if not path:
            raise StoreUnavailable("an sqlite URL needs a file path", location=url)
        return StoreUrl("sqlite", url, path, path)
    if backend in {"postgresql", "postgres"}:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        libpq = parts._replace(scheme="postgresql").geturl()
        return StoreUrl(
            "postgresql", f"postgresql+psycopg{url[len(scheme) :]}", libpq, redact_url(url)
        )
    raise StoreUnavailable(
        f"unsupported database scheme '{scheme}' (use sqlite:/// or postgresql://)",
        location=redact_url(url),
    )
