"""A lineage subgraph loaded from the store: jobs, artifacts and the edges between them."""

from __future__ import annotations

from dataclasses import dataclass, field

from roar.lineage.refs import ArtifactTarget, JobTarget, Target
from roar.models import Artifact, Job
from roar.store import Store
from roar.store.graph import Direction

__all__ = ["LineageGraph", "load_lineage"]


@dataclass
class LineageGraph:
    direction: Direction
    roots: list[str]  # artifact hashes the walk started from
    root_job: int | None
    jobs: dict[int, Job]
    artifacts: dict[str, Artifact]
    inputs: dict[int, list[tuple[str, str]]] = field(default_factory=dict)  # job -> (path, hash)
    outputs: dict[int, list[tuple[str, str]]] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)  # hash -> a path it was seen at

    def producer(
        self, digest: str, before: int | None = None, path: str | None = None
    ) -> int | None:
        """The newest job before `before` that wrote `digest` at `path`, else anywhere.

        Identical content is common (empty files, copies), so the path breaks ties.
        """
        earlier = [
            (job_id, files)
            for job_id, files in self.outputs.items()
            if before is None or job_id < before
        ]
        same_path = [j for j, files in earlier if (path, digest) in files]
        anywhere = [j for j, files in earlier if any(h == digest for _, h in files)]
        found = same_path or anywhere
        return max(found) if found else None

    def consumers(self, digest: str, after: int | None = None) -> list[int]:
        """Jobs in the graph that read `digest` after job `after`, oldest first."""
        return sorted(
            job_id
            for job_id, files in self.inputs.items()
            if (after is None or job_id > after) and any(h == digest for _, h in files)
        )


def load_lineage(
    store: Store, target: Target, direction: Direction, depth: int | None
) -> LineageGraph:
    """Everything upstream (or downstream) of `target`, as far as `depth` jobs away."""
    root_job: int | None = None
    if isinstance(target, JobTarget):
        root_job = target.job.id
        files = store.job_inputs(root_job) if direction == "up" else store.job_outputs(root_job)
        roots: list[tuple[str, str | None]] = sorted(
            {(ref.artifact.hash, ref.path) for ref in files}
        )
        job_ids = set(store.walk(roots, direction, depth, bound=root_job))  # depth 0: none
        job_ids.add(root_job)
    else:
        assert isinstance(target, ArtifactTarget)
        roots = [(target.artifact.hash, None)]
        job_ids = set(store.walk(roots, direction, depth))
    jobs = store.jobs_by_ids(sorted(job_ids))
    ins, outs = store.files_of_jobs(sorted(jobs))
    graph = LineageGraph(direction, sorted({h for h, _ in roots}), root_job, jobs, {})
    for table, pairs in ((graph.inputs, ins), (graph.outputs, outs)):
        for job_id, ref in pairs:
            table.setdefault(job_id, []).append((ref.path, ref.artifact.hash))
            graph.artifacts[ref.artifact.hash] = ref.artifact
            graph.paths.setdefault(ref.artifact.hash, ref.path)
    if isinstance(target, ArtifactTarget):
        graph.artifacts.setdefault(target.artifact.hash, target.artifact)
    return graph
