"""Table definitions used by queries; migrations/ creates the same tables on disk.

Times are UNIX seconds (float, UTC) so SQLite and PostgreSQL sort and compare them alike.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "artifacts",
    "collection_members",
    "collections",
    "flags",
    "hash_cache",
    "input_group_members",
    "input_groups",
    "job_input_groups",
    "job_outputs",
    "jobs",
    "metadata",
    "tags",
]

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

HASH = String(64)

artifacts = Table(
    "artifacts",
    metadata,
    Column("hash", HASH, primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("meta", JSON, nullable=False),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("uid", String(32), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("step", Text, nullable=False),
    Column("command", JSON, nullable=False),
    Column("cwd", Text, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("ended_at", Float),
    Column("exit_code", Integer),
    Column("git_commit", String(64)),
    Column("git_branch", Text),
    Column("git_dirty", Boolean),
    Column("git_remote", Text),
    Column("patch_hash", HASH),
    Column("env", JSON, nullable=False),
    Column("host", JSON, nullable=False),
    Column("trace_coverage", String(16), nullable=False),
    Column("parent_job", Integer, ForeignKey("jobs.id")),
    Column("reproduces_job", Integer, ForeignKey("jobs.id")),
    Column("owner", Text),
    Column("notes", Text),
    UniqueConstraint("uid"),
    Index(None, "step", "started_at"),
    Index(None, "started_at"),
)


def _job_files(name: str) -> Table:
    return Table(
        name,
        metadata,
        Column("job_id", Integer, ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
        Column("artifact_hash", HASH, ForeignKey("artifacts.hash"), nullable=False),
        Column("path", Text, nullable=False),
        PrimaryKeyConstraint("job_id", "path", "artifact_hash"),
        Index(None, "artifact_hash"),
        Index(None, "path"),
    )


job_outputs = _job_files("job_outputs")

# A job's inputs, in groups that reruns share (store/input_groups.py); the view
# `job_inputs` (job_id, artifact_hash, path) joins them back, as migration 0002 defines it.
input_groups = Table(
    "input_groups",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("digest", HASH, nullable=False),
    Column("size", Integer, nullable=False),
    UniqueConstraint("digest"),
)

input_group_members = Table(
    "input_group_members",
    metadata,
    Column(
        "group_id",
        Integer,
        ForeignKey("input_groups.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("artifact_hash", HASH, ForeignKey("artifacts.hash"), nullable=False),
    Column("path", Text, nullable=False),
    PrimaryKeyConstraint("group_id", "path", "artifact_hash"),
    Index(None, "artifact_hash"),
    Index(None, "path"),
)

job_input_groups = Table(
    "job_input_groups",
    metadata,
    Column("job_id", Integer, ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    Column("group_id", Integer, ForeignKey("input_groups.id"), nullable=False),
    PrimaryKeyConstraint("job_id", "group_id"),
    Index(None, "group_id"),
)

collections = Table(
    "collections",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False),
    Column("kind", String(32), nullable=False),
    UniqueConstraint("name"),
)

collection_members = Table(
    "collection_members",
    metadata,
    Column(
        "collection_id",
        Integer,
        ForeignKey("collections.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("artifact_hash", HASH, ForeignKey("artifacts.hash"), nullable=False),
    Column("path", Text, nullable=False),
    PrimaryKeyConstraint("collection_id", "path"),
    Index(None, "artifact_hash"),
)

tags = Table(
    "tags",
    metadata,
    Column("target", String(64), nullable=False),
    Column("name", Text, nullable=False),
    PrimaryKeyConstraint("target", "name"),
    Index(None, "name"),
)

flags = Table(
    "flags",
    metadata,
    Column("artifact_hash", HASH, ForeignKey("artifacts.hash"), nullable=False),
    Column("flagged_at", Float, nullable=False),
    Column("note", Text),
    PrimaryKeyConstraint("artifact_hash"),
)

hash_cache = Table(
    "hash_cache",
    metadata,
    Column("path", Text, nullable=False),
    Column("dev", BigInteger, nullable=False),
    Column("inode", BigInteger, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("mtime_ns", BigInteger, nullable=False),
    Column("ctime_ns", BigInteger, nullable=False),
    Column("hash", HASH, nullable=False),
    PrimaryKeyConstraint("path"),
)
