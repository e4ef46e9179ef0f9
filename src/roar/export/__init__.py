"""Lineage in other tools' formats: OpenLineage run events and W3C PROV documents.

Pure functions from a lineage graph to a document; reading the store and writing files
happen at the edge (`roar.cli.export_cmd`). The third-party libraries (`openlineage-python`,
`prov`) are imported inside the functions, so importing this package costs nothing.

The exporters read a graph through the `Lineage` protocol, which
`roar.lineage.LineageGraph` satisfies; `roar.export` and `roar.lineage` are sibling
services and do not import each other.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

from roar.export.openlineage import openlineage_events, openlineage_text
from roar.export.prov import prov_document, prov_json, prov_n
from roar.models import Artifact, Job

__all__ = [
    "Lineage",
    "files_namespace",
    "missing_parents",
    "openlineage_events",
    "openlineage_text",
    "project_namespace",
    "prov_document",
    "prov_json",
    "prov_n",
]


class Lineage(Protocol):
    """What the exporters read from a lineage graph (jobs, artifacts and the edges)."""

    @property
    def jobs(self) -> Mapping[int, Job]: ...

    @property
    def artifacts(self) -> Mapping[str, Artifact]: ...

    @property
    def inputs(self) -> Mapping[int, Sequence[tuple[str, str]]]: ...  # job -> (path, hash)

    @property
    def outputs(self) -> Mapping[int, Sequence[tuple[str, str]]]: ...

    @property
    def paths(self) -> Mapping[str, str]: ...  # hash -> a path it was seen at


def project_namespace(root: Path) -> str:
    """`roar://<project directory name>`: where a project's jobs live in exported lineage."""
    return f"roar://{quote(root.name or 'project', safe='')}"


def files_namespace() -> str:
    """`file://<this host>`: OpenLineage's namespace for files on a machine's file system."""
    return f"file://{quote(socket.gethostname() or 'localhost', safe='')}"


def missing_parents(graph: Lineage) -> list[int]:
    """Parent jobs that the graph's jobs name but the graph does not hold."""
    return sorted(
        {
            job.parent_job
            for job in graph.jobs.values()
            if job.parent_job is not None and job.parent_job not in graph.jobs
        }
    )
