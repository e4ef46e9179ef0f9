"""Alembic environment: roar always hands in an open connection (see roar.store.migrate)."""

from __future__ import annotations

from alembic import context

from roar.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations()
