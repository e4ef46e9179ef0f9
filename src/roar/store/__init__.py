"""roar's database adapter: SQLite or PostgreSQL through a thin DB-API layer; the schema
is defined with SQLAlchemy and migrated with Alembic (loaded only when migrating).

The only package in roar that writes SQL. Import `Store` from here.
"""

from __future__ import annotations

from roar.store.store import PARENT_UID_ENV, Store, new_job_uid
from roar.store.url import StoreUrl, parse_store_url, redact_url, sqlite_url

__all__ = [
    "PARENT_UID_ENV",
    "Store",
    "StoreUrl",
    "new_job_uid",
    "parse_store_url",
    "redact_url",
    "sqlite_url",
]
