"""roar's database adapter: SQLAlchemy Core over SQLite or PostgreSQL, Alembic migrations.

The only package in roar that writes SQL. Import `Store` from here.
"""

from __future__ import annotations

from roar.store.engine import sqlite_url
from roar.store.store import Store

__all__ = ["Store", "sqlite_url"]
