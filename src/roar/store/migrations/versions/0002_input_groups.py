"""A job's inputs in shared groups; `job_inputs` becomes a view over them.

See roar/store/input_groups.py for why. Every job's existing input rows are cut into groups
exactly as new jobs' are, so a store's history shares groups with the runs that follow.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from roar.store.input_groups import bulk_rows

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

HASH = sa.String(64)
_ROWS_PER_BATCH = 200_000
_ROWS_PER_INSERT = 10_000

JOB_INPUTS_VIEW = (
    "CREATE VIEW job_inputs AS "
    "SELECT g.job_id AS job_id, m.artifact_hash AS artifact_hash, m.path AS path "
    "FROM job_input_groups g JOIN input_group_members m ON m.group_id = g.group_id"
)


def _create_group_tables() -> None:
    op.create_table(
        "input_groups",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("digest", HASH, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_input_groups"),
        sa.UniqueConstraint("digest", name="uq_input_groups_digest"),
    )
    op.create_table(
        "input_group_members",
        sa.Column("group_id", sa.Integer, nullable=False),
        sa.Column("artifact_hash", HASH, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["input_groups.id"],
            name="fk_input_group_members_group_id_input_groups",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["artifact_hash"],
            ["artifacts.hash"],
            name="fk_input_group_members_artifact_hash_artifacts",
        ),
        sa.PrimaryKeyConstraint("group_id", "path", "artifact_hash", name="pk_input_group_members"),
    )
    op.create_index(
        "ix_input_group_members_artifact_hash", "input_group_members", ["artifact_hash"]
    )
    op.create_index("ix_input_group_members_path", "input_group_members", ["path"])
    op.create_table(
        "job_input_groups",
        sa.Column("job_id", sa.Integer, nullable=False),
        sa.Column("group_id", sa.Integer, nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name="fk_job_input_groups_job_id_jobs", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["group_id"], ["input_groups.id"], name="fk_job_input_groups_group_id_input_groups"
        ),
        sa.PrimaryKeyConstraint("job_id", "group_id", name="pk_job_input_groups"),
    )
    op.create_index("ix_job_input_groups_group_id", "job_input_groups", ["group_id"])


def _batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _job_batches(counts: Sequence[tuple[int, int]]) -> Iterator[list[int]]:
    """Consecutive job ids, as many per batch as keep it near _ROWS_PER_BATCH input rows
    (a job with more gets a batch of its own): memory stays bounded on any store."""
    batch: list[int] = []
    rows = 0
    for job_id, count in counts:
        if batch and rows + count > _ROWS_PER_BATCH:
            yield batch
            batch, rows = [], 0
        batch.append(job_id)
        rows += count
    if batch:
        yield batch


def _insert(conn: sa.Connection, statement: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """`statement` names its parameters p0, p1, ... in the rows' order."""
    for batch in _batches(rows, _ROWS_PER_INSERT):
        conn.execute(
            sa.text(statement), [{f"p{i}": value for i, value in enumerate(r)} for r in batch]
        )


def _group_existing_inputs(conn: sa.Connection) -> None:
    """Cut every job's rows of the old table into groups, shared across jobs by digest."""
    counts = conn.execute(
        sa.text("SELECT job_id, COUNT(*) FROM job_inputs GROUP BY job_id ORDER BY job_id")
    )
    ids: dict[str, int] = {}
    for batch in _job_batches([(int(job), int(rows)) for job, rows in counts]):
        per_job: dict[int, list[tuple[str, str]]] = {}
        for job_id, path, digest in conn.execute(
            sa.text(
                "SELECT job_id, path, artifact_hash FROM job_inputs "
                "WHERE job_id >= :first AND job_id <= :last"
            ),
            {"first": batch[0], "last": batch[-1]},
        ):
            per_job.setdefault(int(job_id), []).append((str(path), str(digest)))
        rows = bulk_rows(per_job, ids)
        _insert(
            conn, "INSERT INTO input_groups (id, digest, size) VALUES (:p0, :p1, :p2)", rows.groups
        )
        _insert(
            conn,
            "INSERT INTO input_group_members (group_id, artifact_hash, path) "
            "VALUES (:p0, :p1, :p2)",
            rows.members,
        )
        _insert(
            conn, "INSERT INTO job_input_groups (job_id, group_id) VALUES (:p0, :p1)", rows.links
        )
    if ids and conn.dialect.name == "postgresql":
        # ids were given explicitly: the sequence must continue after them
        conn.execute(
            sa.text("SELECT setval(pg_get_serial_sequence('input_groups', 'id'), :last)"),
            {"last": len(ids)},
        )


def upgrade() -> None:
    _create_group_tables()
    _group_existing_inputs(op.get_bind())
    op.drop_index("ix_job_inputs_path", table_name="job_inputs")
    op.drop_index("ix_job_inputs_artifact_hash", table_name="job_inputs")
    op.drop_table("job_inputs")
    op.execute(JOB_INPUTS_VIEW)


def downgrade() -> None:
    op.execute("DROP VIEW job_inputs")
    op.create_table(
        "job_inputs",
        sa.Column("job_id", sa.Integer, nullable=False),
        sa.Column("artifact_hash", HASH, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name="fk_job_inputs_job_id_jobs", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["artifact_hash"], ["artifacts.hash"], name="fk_job_inputs_artifact_hash_artifacts"
        ),
        sa.PrimaryKeyConstraint("job_id", "path", "artifact_hash", name="pk_job_inputs"),
    )
    op.create_index("ix_job_inputs_artifact_hash", "job_inputs", ["artifact_hash"])
    op.create_index("ix_job_inputs_path", "job_inputs", ["path"])
    op.execute(
        "INSERT INTO job_inputs (job_id, artifact_hash, path) "
        "SELECT DISTINCT g.job_id, m.artifact_hash, m.path "
        "FROM job_input_groups g JOIN input_group_members m ON m.group_id = g.group_id"
    )
    op.drop_table("job_input_groups")
    op.drop_table("input_group_members")
    op.drop_table("input_groups")
