"""roar's database adapter: SQLite or PostgreSQL through a thin DB-API layer; the schema
is defined with SQLAlchemy and migrated with Alembic (loaded only when migrating).

The only package in roar that writes SQL. Import `Store` from here.
"""

from __future__ import annotations

from roar.store.store import Store
from roar.store.url import StoreUrl, parse_store_url, redact_url, sqlite_url

__all__ = ["Store", "StoreUrl", "parse_store_url", "redact_url", "sqlite_url"]
