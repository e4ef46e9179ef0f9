"""A lineage subgraph loaded from the store: jobs, artifacts and the edges between them."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from roar.errors import StoreError
from roar.lineage.refs import ArtifactTarget, JobTarget, Target
from roar.models import Artifact, Job
from roar.store import Store
from roar.store.graph import Direction

__all__ = ["LineageCycle", "LineageGraph", "load_lineage"]


class LineageCycle(StoreError):
    template = (
        "the recorded lineage contains a cycle ({cycle}); the store holds inconsistent "
        "records: inspect those jobs with `roar show`"
    )


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

    def producers(self, digest: str) -> list[int]:
        """Jobs in the graph that wrote `digest`, newest first."""
        return sorted(
            (j for j, files in self.outputs.items() if any(h == digest for _, h in files)),
            reverse=True,
        )

    def consumers(self, digest: str) -> list[int]:
        return sorted(j for j, files in self.inputs.items() if any(h == digest for _, h in files))

    def check_acyclic(self) -> None:
        """Raise LineageCycle naming the cycle if jobs feed each other in a loop."""
        feeds: dict[int, set[int]] = defaultdict(set)  # job -> jobs reading its outputs
        readers: dict[str, set[int]] = defaultdict(set)
        for job_id, files in self.inputs.items():
            for _, digest in files:
                readers[digest].add(job_id)
        for job_id, files in self.outputs.items():
            for _, digest in files:
                feeds[job_id] |= readers[digest] - {job_id}
        state: dict[int, int] = {}  # 1 visiting, 2 done
        for start in sorted(self.jobs):
            stack: list[tuple[int, list[int]]] = [(start, sorted(feeds[start]))]
            path = [start]
            if state.get(start):
                continue
            state[start] = 1
            while stack:
                node, pending = stack[-1]
                if not pending:
                    state[node] = 2
                    stack.pop()
                    path.pop()
                    continue
                nxt = pending.pop()
                if state.get(nxt) == 1:
                    loop = path[path.index(nxt) :] + [nxt]
                    raise LineageCycle(cycle=" -> ".join(f"@{j}" for j in loop))
                if not state.get(nxt):
                    state[nxt] = 1
                    path.append(nxt)
                    stack.append((nxt, sorted(feeds[nxt])))


def load_lineage(
    store: Store, target: Target, direction: Direction, depth: int | None
) -> LineageGraph:
    """Everything upstream (or downstream) of `target`, as far as `depth` jobs away."""
    root_job: int | None = None
    if isinstance(target, JobTarget):
        root_job = target.job.id
        files = store.job_inputs(root_job) if direction == "up" else store.job_outputs(root_job)
        roots = sorted({ref.artifact.hash for ref in files})
        remaining = None if depth is None else max(depth - 1, 0)
        job_ids = set(store.walk(roots, direction, remaining)) if depth != 0 else set()
        job_ids.add(root_job)
    else:
        assert isinstance(target, ArtifactTarget)
        roots = [target.artifact.hash]
        job_ids = set(store.walk(roots, direction, depth))
    jobs = store.jobs_by_ids(sorted(job_ids))
    ins, outs = store.files_of_jobs(sorted(jobs))
    graph = LineageGraph(direction, roots, root_job, jobs, {})
    for table, pairs in ((graph.inputs, ins), (graph.outputs, outs)):
        for job_id, ref in pairs:
            table.setdefault(job_id, []).append((ref.path, ref.artifact.hash))
            graph.artifacts[ref.artifact.hash] = ref.artifact
            graph.paths.setdefault(ref.artifact.hash, ref.path)
    if isinstance(target, ArtifactTarget):
        graph.artifacts.setdefault(target.artifact.hash, target.artifact)
    graph.check_acyclic()
    return graph
