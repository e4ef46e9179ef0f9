"""Schema versions: a cheap check on every open, Alembic only when something must change.

Alembic and SQLAlchemy take ~0.5 s to import, so opening a store reads the revision with
one plain query and compares it with `KNOWN_REVISIONS`; the migration machinery loads only
for `roar init` or an actual upgrade.
"""

from __future__ import annotations

from pathlib import Path

from roar.errors import SchemaMissing, SchemaTooNew
from roar.store.errors import translate_errors

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from roar.store.db import Database
    from roar.store.url import StoreUrl

__all__ = ["HEAD_REVISION", "KNOWN_REVISIONS", "MIGRATIONS", "check_schema", "upgrade"]

#: Every revision this roar can read, oldest first. A test keeps it equal to Alembic's
#: history, so adding a migration without listing it here fails CI.
KNOWN_REVISIONS: tuple[str, ...] = ("0001", "0002")
HEAD_REVISION = KNOWN_REVISIONS[-1]
MIGRATIONS = Path(__file__).with_name("migrations")
#: PostgreSQL advisory lock key serialising concurrent `roar init` runs ("roar" in ASCII).
_PG_MIGRATION_LOCK = 0x726F6172

_HAS_VERSION_TABLE = {
    "sqlite": "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'",
    "postgresql": "SELECT 1 FROM pg_tables WHERE schemaname = current_schema() "
    "AND tablename = 'alembic_version'",
}


def current_revision(db: Database) -> str | None:
    """The revision stamped in the database, or None when it was never migrated."""
    with db.read() as cur:
        if cur.execute(_HAS_VERSION_TABLE[db.kind]).fetchone() is None:
            return None
        return cur.execute("SELECT version_num FROM alembic_version").scalar()  # type: ignore[no-any-return]


def _check_known(revision: str, location: str) -> None:
    if revision not in KNOWN_REVISIONS:
        raise SchemaTooNew(location=location, found=revision, known=HEAD_REVISION)


def check_schema(db: Database) -> bool:
    """True when the schema is current; False when it is older and needs `upgrade`.

    Refuses a database that was never migrated and one written by a newer roar.
    """
    revision = current_revision(db)
    if revision is None:
        raise SchemaMissing(location=db.location)
    _check_known(revision, db.location)
    return revision == HEAD_REVISION


def upgrade(url: StoreUrl) -> None:
    """Bring the database to HEAD_REVISION in one transaction (safe to race)."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    from roar.store.engine import make_engine, write_transaction
    from roar.store.migrate_sql import current_revision_sa

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with translate_errors(url.display):
        engine = make_engine(url.url)
        try:
            with write_transaction(engine) as conn:
                if url.kind == "postgresql":
                    conn.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK}
                    )
                revision = current_revision_sa(conn)
                if revision is not None:
                    _check_known(revision, url.display)
                    if revision == HEAD_REVISION:
                        return
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
        finally:
            engine.dispose()
