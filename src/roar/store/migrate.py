"""Schema versions: a cheap check on every open, Alembic only when something must change.

Alembic takes ~0.3 s to import, so commands that only read compare the database's
revision with `KNOWN_REVISIONS` and import Alembic just for an actual upgrade.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, Engine, inspect, text

from roar.errors import SchemaMissing, SchemaTooNew
from roar.store.engine import is_sqlite, write_transaction

__all__ = ["HEAD_REVISION", "KNOWN_REVISIONS", "current_revision", "ensure_schema", "upgrade"]

#: Every revision this roar can read, oldest first. A test keeps it equal to Alembic's
#: history, so adding a migration without listing it here fails CI.
KNOWN_REVISIONS: tuple[str, ...] = ("0001",)
HEAD_REVISION = KNOWN_REVISIONS[-1]

_MIGRATIONS = Path(__file__).with_name("migrations")
#: PostgreSQL advisory lock key serialising concurrent `roar init` runs ("roar" in ASCII).
_PG_MIGRATION_LOCK = 0x726F6172


def current_revision(conn: Connection) -> str | None:
    """The revision stamped in the database, or None when it was never migrated."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
    return None if row is None else str(row[0])


def _check_known(revision: str, location: str) -> None:
    if revision not in KNOWN_REVISIONS:
        raise SchemaTooNew(location=location, found=revision, known=HEAD_REVISION)


def ensure_schema(engine: Engine, location: str) -> None:
    """Refuse unknown (newer) schemas, upgrade older ones, fail on a never-migrated DB."""
    with engine.connect() as conn:
        revision = current_revision(conn)
    if revision is None:
        raise SchemaMissing(location=location)
    _check_known(revision, location)
    if revision != HEAD_REVISION:
        upgrade(engine, location)


def upgrade(engine: Engine, location: str) -> None:
    """Bring the database to HEAD_REVISION in one transaction (safe to race)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with write_transaction(engine) as conn:
        if not is_sqlite(engine):
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
        revision = current_revision(conn)
        if revision is not None:
            _check_known(revision, location)
            if revision == HEAD_REVISION:
                return
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
