"""SQLAlchemy-side helpers for migrations (imported only while migrating)."""

from __future__ import annotations

from sqlalchemy import Connection, inspect, text

__all__ = ["current_revision_sa"]


def current_revision_sa(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
    return None if row is None else str(row[0])
