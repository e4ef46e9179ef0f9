"""Initial schema: jobs, artifacts, their edges, collections, tags, flags, hash cache.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

HASH = sa.String(64)


def _job_files(name: str) -> None:
    op.create_table(
        name,
        sa.Column("job_id", sa.Integer, nullable=False),
        sa.Column("artifact_hash", HASH, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=f"fk_{name}_job_id_jobs", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["artifact_hash"], ["artifacts.hash"], name=f"fk_{name}_artifact_hash_artifacts"
        ),
        sa.PrimaryKeyConstraint("job_id", "path", "artifact_hash", name=f"pk_{name}"),
    )
    op.create_index(f"ix_{name}_artifact_hash", name, ["artifact_hash"])
    op.create_index(f"ix_{name}_path", name, ["path"])


def upgrade() -> None:
    op.create_table(
        "artifacts",
        sa.Column("hash", HASH, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("meta", sa.JSON, nullable=False),
        sa.PrimaryKeyConstraint("hash", name="pk_artifacts"),
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("uid", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("step", sa.Text, nullable=False),
        sa.Column("command", sa.JSON, nullable=False),
        sa.Column("cwd", sa.Text, nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("ended_at", sa.Float),
        sa.Column("exit_code", sa.Integer),
        sa.Column("git_commit", sa.String(64)),
        sa.Column("git_branch", sa.Text),
        sa.Column("git_dirty", sa.Boolean),
        sa.Column("git_remote", sa.Text),
        sa.Column("patch_hash", HASH),
        sa.Column("env", sa.JSON, nullable=False),
        sa.Column("host", sa.JSON, nullable=False),
        sa.Column("trace_coverage", sa.String(16), nullable=False),
        sa.Column("parent_job", sa.Integer),
        sa.Column("reproduces_job", sa.Integer),
        sa.Column("owner", sa.Text),
        sa.Column("notes", sa.Text),
        sa.PrimaryKeyConstraint("id", name="pk_jobs"),
        sa.UniqueConstraint("uid", name="uq_jobs_uid"),
        sa.ForeignKeyConstraint(["parent_job"], ["jobs.id"], name="fk_jobs_parent_job_jobs"),
        sa.ForeignKeyConstraint(
            ["reproduces_job"], ["jobs.id"], name="fk_jobs_reproduces_job_jobs"
        ),
    )
    op.create_index("ix_jobs_step_started_at", "jobs", ["step", "started_at"])
    op.create_index("ix_jobs_started_at", "jobs", ["started_at"])
    _job_files("job_inputs")
    _job_files("job_outputs")
    op.create_table(
        "collections",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_collections"),
        sa.UniqueConstraint("name", name="uq_collections_name"),
    )
    op.create_table(
        "collection_members",
        sa.Column("collection_id", sa.Integer, nullable=False),
        sa.Column("artifact_hash", HASH, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collections.id"],
            name="fk_collection_members_collection_id_collections",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["artifact_hash"],
            ["artifacts.hash"],
            name="fk_collection_members_artifact_hash_artifacts",
        ),
        sa.PrimaryKeyConstraint("collection_id", "path", name="pk_collection_members"),
    )
    op.create_index("ix_collection_members_artifact_hash", "collection_members", ["artifact_hash"])
    op.create_table(
        "tags",
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("target", "name", name="pk_tags"),
    )
    op.create_index("ix_tags_name", "tags", ["name"])
    op.create_table(
        "flags",
        sa.Column("artifact_hash", HASH, nullable=False),
        sa.Column("flagged_at", sa.Float, nullable=False),
        sa.Column("note", sa.Text),
        sa.ForeignKeyConstraint(
            ["artifact_hash"], ["artifacts.hash"], name="fk_flags_artifact_hash_artifacts"
        ),
        sa.PrimaryKeyConstraint("artifact_hash", name="pk_flags"),
    )
    op.create_table(
        "hash_cache",
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("dev", sa.BigInteger, nullable=False),
        sa.Column("inode", sa.BigInteger, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("mtime_ns", sa.BigInteger, nullable=False),
        sa.Column("ctime_ns", sa.BigInteger, nullable=False),
        sa.Column("hash", HASH, nullable=False),
        sa.PrimaryKeyConstraint("path", name="pk_hash_cache"),
    )


def downgrade() -> None:
    for table in (
        "hash_cache",
        "flags",
        "tags",
        "collection_members",
        "collections",
        "job_outputs",
        "job_inputs",
        "jobs",
        "artifacts",
    ):
        op.drop_table(table)
