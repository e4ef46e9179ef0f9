"""W3C PROV documents for a lineage graph (PROV-JSON and PROV-N through the `prov` package).

- entity `artifact:<BLAKE3 hash>` per artifact, with `roar:path` (a path it was seen at),
  `roar:size` and `roar:kind`;
- activity `job:<uid>` per job, with start and end times, `roar:command`, `roar:step`,
  `roar:exitCode` and the git commit;
- `used` for each input and `wasGeneratedBy` for each output (with the path, as a job
  can read or write the same content at several paths);
- `wasDerivedFrom` from each output to each input of the same job, naming that job.

The prefixes `roar`, `artifact` and `job` live under the caller's namespace URI
(e.g. `roar://<project>/`).
"""

from __future__ import annotations

import datetime as dt
import shlex
from typing import TYPE_CHECKING, Any

from roar.capture.environment import redact_command
from roar.models import Job

if TYPE_CHECKING:
    from prov.model import ProvDocument

    from roar.export import Lineage

__all__ = ["prov_document", "prov_json", "prov_n"]


def _time(timestamp: float | None) -> dt.datetime | None:
    if timestamp is None:
        return None
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc)


def _job_attributes(job: Job) -> dict[str, Any]:
    found: dict[str, Any] = {
        "prov:label": f"@{job.id} {job.step}",
        "roar:number": job.id,
        "roar:step": job.step,
        "roar:kind": job.kind,
        "roar:command": shlex.join(redact_command(job.command)),
        "roar:exitCode": job.exit_code,
        "roar:gitCommit": job.git_commit,
        "roar:notes": job.notes,
    }
    return {key: value for key, value in found.items() if value is not None}


def prov_document(graph: Lineage, namespace: str) -> ProvDocument:
    """A PROV document: artifacts as entities, jobs as activities, their usages,
    generations and derivations."""
    from prov.model import ProvDocument

    base = namespace.rstrip("/") + "/"
    doc = ProvDocument()
    doc.add_namespace("roar", base + "terms#")
    doc.add_namespace("artifact", base + "artifact/")
    doc.add_namespace("job", base + "job/")
    for digest in sorted(graph.artifacts):
        artifact = graph.artifacts[digest]
        attributes: dict[str, Any] = {"roar:size": artifact.size, "roar:kind": artifact.kind}
        path = graph.paths.get(digest)
        if path is not None:
            attributes = {"prov:label": path, "roar:path": path, **attributes}
        doc.entity(f"artifact:{digest}", attributes)
    for job_id in sorted(graph.jobs):
        job = graph.jobs[job_id]
        activity = f"job:{job.uid}"
        doc.activity(activity, _time(job.started_at), _time(job.ended_at), _job_attributes(job))
        inputs = graph.inputs.get(job_id, ())
        outputs = graph.outputs.get(job_id, ())
        for path, digest in inputs:
            doc.used(activity, f"artifact:{digest}", other_attributes={"roar:path": path})
        for path, digest in outputs:
            doc.wasGeneratedBy(f"artifact:{digest}", activity, other_attributes={"roar:path": path})
        derived = sorted(
            {(made, used) for _, made in outputs for _, used in inputs if made != used}
        )
        for made, used in derived:
            doc.wasDerivedFrom(f"artifact:{made}", f"artifact:{used}", activity)
    return doc


def prov_json(doc: ProvDocument) -> str:
    """PROV-JSON (https://www.w3.org/submissions/prov-json/), indented."""
    text = doc.serialize(format="json", indent=2)
    assert text is not None  # no destination given: serialize returns the text
    return text


def prov_n(doc: ProvDocument) -> str:
    """PROV-N, the W3C's human-readable notation."""
    return doc.get_provn()
