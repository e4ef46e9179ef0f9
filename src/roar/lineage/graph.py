"""A lineage subgraph loaded from the store: jobs, artifacts and the edges between them."""

from __future__ import annotations

from dataclasses import dataclass, field

from roar.lineage.refs import ArtifactTarget, JobTarget, Target
from roar.models import Artifact, Job
from roar.store import Store

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from roar.store.graph import Direction

__all__ = ["ContentLoop", "LineageGraph", "load_lineage"]


@dataclass(frozen=True)
class ContentLoop:
    """Content in its own lineage: job `read_by` read it, and its descendant `written_by`
    wrote the same bytes again (a step that restores an earlier file, or corrupt records)."""

    digest: str
    path: str
    read_by: int
    written_by: int


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

    # digest -> [(job id, path)] of every write in the graph; built on the first question,
    # once load_lineage has filled `outputs` (the graph is not changed after that).
    _writes: dict[str, list[tuple[int, str]]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def producer(
        self, digest: str, before: int | None = None, path: str | None = None
    ) -> int | None:
        """The newest job before `before` that wrote `digest` at `path`, else anywhere.

        Identical content is common (empty files, copies), so the path breaks ties.
        """
        if self._writes is None:
            self._writes = {}
            for job_id, files in self.outputs.items():
                for written_path, written in files:
                    self._writes.setdefault(written, []).append((job_id, written_path))
        same_path = anywhere = -1
        for job_id, written_path in self._writes.get(digest, ()):
            if before is None or job_id < before:
                anywhere = max(anywhere, job_id)
                if written_path == path:
                    same_path = max(same_path, job_id)
        found = same_path if same_path >= 0 else anywhere
        return found if found >= 0 else None

    def loops(self) -> list[ContentLoop]:
        """Every artifact that is in its own lineage within this graph.

        Walks follow time (a producer is always an earlier job), so a loop can never make
        one go round; this names it, so that a surprising tree can be explained.
        """
        read_by: dict[str, list[int]] = {}
        for job_id, files in self.inputs.items():
            for _, digest in files:
                read_by.setdefault(digest, []).append(job_id)
        found = []
        for writer, files in sorted(self.outputs.items()):
            for path, digest in files:
                earlier = {k for k in read_by.get(digest, ()) if k < writer}
                hits = earlier & self._ancestors(writer) if earlier else set()
                if hits:
                    found.append(ContentLoop(digest, path, max(hits), writer))
        return found

    def _ancestors(self, job_id: int) -> set[int]:
        seen: set[int] = set()
        stack = [job_id]
        while stack:
            current = stack.pop()
            for path, digest in self.inputs.get(current, []):
                producer = self.producer(digest, before=current, path=path)
                if producer is not None and producer not in seen:
                    seen.add(producer)
                    stack.append(producer)
        return seen

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
        roots = [(target.artifact.hash, target.path)]
        job_ids = set(store.walk(roots, direction, depth))
    jobs = store.jobs_by_ids(sorted(job_ids))
    ins, outs = store.files_of_jobs(sorted(jobs))
    graph = LineageGraph(direction, sorted({h for h, _ in roots}), root_job, jobs, {})
    if isinstance(target, ArtifactTarget) and target.path is not None:
        graph.paths[target.artifact.hash] = target.path  # its label: the name asked about
    for table, pairs in ((graph.inputs, ins), (graph.outputs, outs)):
        for job_id, ref in pairs:
            table.setdefault(job_id, []).append((ref.path, ref.artifact.hash))
            graph.artifacts[ref.artifact.hash] = ref.artifact
            graph.paths.setdefault(ref.artifact.hash, ref.path)
    if isinstance(target, ArtifactTarget):
        graph.artifacts.setdefault(target.artifact.hash, target.artifact)
    return graph
