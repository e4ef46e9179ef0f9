"""Lineage graphs as text: a tree for people, JSON for programs, DOT and Mermaid for diagrams.

Pure functions from a LineageGraph to a string.
"""

from __future__ import annotations

import json
from typing import Any

from roar.lineage.graph import LineageGraph
from roar.models import Job
from roar.pathtext import for_display

__all__ = ["job_record", "to_dot", "to_json", "to_mermaid", "to_tree"]


def _job_label(job: Job) -> str:
    status = "ok" if job.exit_code == 0 else f"exit {job.exit_code}"
    return f"@{job.id} {job.step} [{job.kind}, {status}] ({job.uid})"


def _artifact_label(graph: LineageGraph, digest: str, path: str | None = None) -> str:
    shown = path or graph.paths.get(digest, "?")
    return f"{for_display(shown)} ({digest[:12]})"


def to_tree(graph: LineageGraph) -> str:
    """Upstream: artifact <- the job that made it <- its inputs ...; downstream mirrored."""
    lines: list[str] = []
    shown: set[int] = set()
    up = graph.direction == "up"

    def branch(prefix: str, last: bool) -> tuple[str, str]:
        return prefix + ("└── " if last else "├── "), prefix + ("    " if last else "│   ")

    def job_lines(job_id: int, prefix: str) -> None:
        entries = (graph.inputs if up else graph.outputs).get(job_id, [])
        for index, (path, digest) in enumerate(entries):
            head, child = branch(prefix, index == len(entries) - 1)
            lines.append(head + _artifact_label(graph, digest, path))
            artifact_lines(digest, child, job_id, path)

    def artifact_lines(
        digest: str, prefix: str, near_job: int | None, path: str | None = None
    ) -> None:
        if up:
            found = graph.producer(digest, before=near_job, path=path)
            nxt = [] if found is None else [found]
        else:
            nxt = graph.consumers(digest, after=near_job)
        for index, job_id in enumerate(nxt):
            head, child = branch(prefix, index == len(nxt) - 1)
            label = ("made by " if up else "read by ") + _job_label(graph.jobs[job_id])
            if job_id in shown:
                lines.append(head + label + " (see above)")
                continue
            lines.append(head + label)
            shown.add(job_id)
            job_lines(job_id, child)

    if graph.root_job is not None:
        lines.append(_job_label(graph.jobs[graph.root_job]))
        shown.add(graph.root_job)
        job_lines(graph.root_job, "")
    else:
        for digest in graph.roots:
            lines.append(_artifact_label(graph, digest))
            artifact_lines(digest, "", None, graph.paths.get(digest))
    return "\n".join(lines)


def job_record(job: Job) -> dict[str, Any]:
    """The JSON shape of a job shared by `trace --format json` and `log --json`."""
    return {
        "id": job.id,
        "uid": job.uid,
        "kind": job.kind,
        "step": job.step,
        "command": list(job.command),
        "exit_code": job.exit_code,
        "started_at": job.started_at,
        "ended_at": job.ended_at,
        "git_commit": job.git_commit,
    }


def to_json(graph: LineageGraph) -> str:
    """Stable shape (docs/json/trace.schema.json): the graph, and any content loops."""
    edges = [
        {"from": digest, "to": f"@{job_id}", "kind": "input", "path": path}
        for job_id, files in sorted(graph.inputs.items())
        for path, digest in files
    ] + [
        {"from": f"@{job_id}", "to": digest, "kind": "output", "path": path}
        for job_id, files in sorted(graph.outputs.items())
        for path, digest in files
    ]
    document = {
        "direction": graph.direction,
        "roots": graph.roots,
        "root_job": graph.root_job,
        "jobs": [job_record(graph.jobs[j]) for j in sorted(graph.jobs)],
        "artifacts": [
            {"hash": a.hash, "size": a.size, "kind": a.kind, "path": graph.paths.get(a.hash)}
            for a in sorted(graph.artifacts.values(), key=lambda a: a.hash)
        ],
        "edges": edges,
        "loops": [
            {
                "hash": loop.digest,
                "path": loop.path,
                "read_by": f"@{loop.read_by}",
                "written_by": f"@{loop.written_by}",
            }
            for loop in graph.loops()
        ],
    }
    return json.dumps(document, indent=2)


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def to_dot(graph: LineageGraph) -> str:
    lines = ["digraph lineage {", "  rankdir=LR;"]
    for digest in sorted(graph.artifacts):
        label = _quote(_artifact_label(graph, digest))
        lines.append(f'  "a_{digest[:16]}" [shape=note, label="{label}"];')
    for job_id in sorted(graph.jobs):
        label = _quote(_job_label(graph.jobs[job_id]))
        lines.append(f'  "j_{job_id}" [shape=box, style=rounded, label="{label}"];')
    for job_id, files in sorted(graph.inputs.items()):
        for _, digest in files:
            lines.append(f'  "a_{digest[:16]}" -> "j_{job_id}";')
    for job_id, files in sorted(graph.outputs.items()):
        for _, digest in files:
            lines.append(f'  "j_{job_id}" -> "a_{digest[:16]}";')
    lines.append("}")
    return "\n".join(lines)


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;")


def to_mermaid(graph: LineageGraph) -> str:
    lines = ["graph LR"]
    for digest in sorted(graph.artifacts):
        lines.append(f'  a_{digest[:16]}["{_mermaid_text(_artifact_label(graph, digest))}"]')
    for job_id in sorted(graph.jobs):
        lines.append(f'  j_{job_id}(["{_mermaid_text(_job_label(graph.jobs[job_id]))}"])')
    for job_id, files in sorted(graph.inputs.items()):
        for _, digest in files:
            lines.append(f"  a_{digest[:16]} --> j_{job_id}")
    for job_id, files in sorted(graph.outputs.items()):
        for _, digest in files:
            lines.append(f"  j_{job_id} --> a_{digest[:16]}")
    return "\n".join(lines)
