"""Questions about the DAG of jobs and artifacts: resolve a reference, walk its lineage."""

from __future__ import annotations

from roar.lineage.graph import LineageGraph, load_lineage
from roar.lineage.refs import ArtifactTarget, JobTarget, Target, resolve_ref

__all__ = ["ArtifactTarget", "JobTarget", "LineageGraph", "Target", "load_lineage", "resolve_ref"]
