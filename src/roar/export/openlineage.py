"""OpenLineage run events for a lineage graph: one START and one COMPLETE/FAIL/ABORT per job.

Built with `openlineage-python`'s own model classes and serializer, so the events follow
the spec version that library ships (2-0-2 and its facets):

- run id: a UUIDv7 made from the job's start (ms) and its uid, so exporting twice gives
  the same ids and ids sort by start time;
- job: namespace given by the caller (`roar://<project>`), name = step, `jobType` facet;
- START carries the inputs; the end event carries inputs and outputs, because roar
  knows what a job wrote only once it ended. COMPLETE for exit 0, FAIL for any other exit
  code (with an `errorMessage` facet: "exit code N" and the job's notes), ABORT when no
  exit code was recorded;
- datasets: files named by absolute path in a `file://<host>` namespace, with the BLAKE3
  content hash as `version` facet and the size as `outputStatistics` on outputs;
- run facets: `processing_engine` (roar), `executionParameters` (command, cwd, git
  state) and `parent` for jobs started by another job.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import posixpath
import shlex
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from roar import __version__
from roar.capture.environment import redact_command
from roar.models import Job

if TYPE_CHECKING:
    from openlineage.client.event_v2 import InputDataset, OutputDataset, RunEvent
    from openlineage.client.facet_v2 import OutputDatasetFacet, RunFacet

    from roar.export import Lineage

__all__ = ["PRODUCER", "event_time", "openlineage_events", "openlineage_text", "run_id"]

#: Who made the events (OpenLineage `producer`): roar and its version.
PRODUCER = f"urn:roar:{__version__}"

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_UUID_VERSION_7 = 0x7 << 76
_UUID_VARIANT_RFC = 0x2 << 62


def _milliseconds(timestamp: float) -> int:
    return round(timestamp * 1000)


def event_time(timestamp: float) -> str:
    """A recorded time as ISO-8601 UTC to the millisecond, e.g. `2024-05-01T12:00:00.123Z`."""
    instant = _EPOCH + dt.timedelta(milliseconds=_milliseconds(timestamp))
    return instant.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def run_id(job: Job) -> str:
    """A UUIDv7 (RFC 9562) from the job's start time in ms and its uid.

    The 74 "random" bits come from a SHA-256 of both, so the same job always gets the
    same id (exports are stable) and ids still sort by start time.
    """
    millis = _milliseconds(job.started_at)
    digest = hashlib.sha256(f"{millis}:{job.uid}".encode()).digest()
    value = (millis & (2**48 - 1)) << 80 | int.from_bytes(digest[:10], "big")
    value = (value & ~(0xF << 76)) | _UUID_VERSION_7
    value = (value & ~(0x3 << 62)) | _UUID_VARIANT_RFC
    return str(uuid.UUID(int=value))


def _job_name(job: Job) -> str:
    return job.step or f"job-{job.uid}"


def _parameters(job: Job) -> list[tuple[str, str]]:
    found = [
        ("roar.job", f"@{job.id}"),
        ("roar.uid", job.uid),
        ("roar.kind", job.kind),
        ("command", shlex.join(redact_command(job.command))),
        ("cwd", job.cwd),
        ("exit_code", "" if job.exit_code is None else str(job.exit_code)),
        ("git.commit", job.git_commit or ""),
        ("git.branch", job.git_branch or ""),
        ("git.dirty", "" if job.git_dirty is None else str(job.git_dirty).lower()),
        ("git.patch", job.patch_hash or ""),
        ("trace_coverage", job.trace_coverage),
    ]
    return [(key, value) for key, value in found if value]


def _error_message(job: Job) -> str:
    parts = [f"exit code {job.exit_code}"]
    if job.notes:
        parts.append(job.notes)
    return "; ".join(parts)


def _run_facets(job: Job, parent: Job | None, namespace: str, producer: str) -> dict[str, RunFacet]:
    from openlineage.client.facet_v2 import (
        execution_parameters_run,
        parent_run,
        processing_engine_run,
    )

    facets: dict[str, RunFacet] = {
        "processing_engine": processing_engine_run.ProcessingEngineRunFacet(
            version=__version__,
            name="roar",
            openlineageAdapterVersion=__version__,
            producer=producer,
        ),
        "executionParameters": execution_parameters_run.ExecutionParametersRunFacet(
            parameters=[
                execution_parameters_run.ExecutionParameter(key=key, value=value)
                for key, value in _parameters(job)
            ],
            producer=producer,
        ),
    }
    if parent is not None:
        facets["parent"] = parent_run.ParentRunFacet(
            run=parent_run.Run(runId=run_id(parent)),
            job=parent_run.Job(namespace=namespace, name=_job_name(parent)),
            producer=producer,
        )
    return facets


def _inputs(
    files: Sequence[tuple[str, str]], namespace: str, root: str | None, producer: str
) -> list[InputDataset]:
    from openlineage.client.event_v2 import InputDataset
    from openlineage.client.facet_v2 import dataset_version_dataset

    return [
        InputDataset(
            namespace=namespace,
            name=_dataset_name(root, path),
            facets={
                "version": dataset_version_dataset.DatasetVersionDatasetFacet(
                    datasetVersion=digest, producer=producer
                )
            },
        )
        for path, digest in files
    ]


def _outputs(
    graph: Lineage,
    files: Sequence[tuple[str, str]],
    namespace: str,
    root: str | None,
    producer: str,
) -> list[OutputDataset]:
    from openlineage.client.event_v2 import OutputDataset
    from openlineage.client.facet_v2 import (
        dataset_version_dataset,
        output_statistics_output_dataset,
    )

    datasets = []
    for path, digest in files:
        artifact = graph.artifacts.get(digest)
        statistics: dict[str, OutputDatasetFacet] = {}
        if artifact is not None:
            statistics["outputStatistics"] = (
                output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
                    size=artifact.size, producer=producer
                )
            )
        datasets.append(
            OutputDataset(
                namespace=namespace,
                name=_dataset_name(root, path),
                facets={
                    "version": dataset_version_dataset.DatasetVersionDatasetFacet(
                        datasetVersion=digest, producer=producer
                    )
                },
                outputFacets=statistics,
            )
        )
    return datasets


def _dataset_name(root: str | None, path: str) -> str:
    """Absolute path when the project root is known (relative paths are project-relative)."""
    return posixpath.join(root, path) if root else path


def _job_events(
    graph: Lineage,
    job: Job,
    parent: Job | None,
    namespace: str,
    dataset_namespace: str,
    root: str | None,
    producer: str,
) -> tuple[RunEvent, RunEvent]:
    from openlineage.client.event_v2 import Job as OlJob
    from openlineage.client.event_v2 import Run, RunEvent, RunState
    from openlineage.client.facet_v2 import error_message_run, job_type_job

    ol_job = OlJob(
        namespace=namespace,
        name=_job_name(job),
        facets={
            "jobType": job_type_job.JobTypeJobFacet(
                processingType="BATCH",
                integration="ROAR",
                jobType=job.kind.upper(),
                producer=producer,
            )
        },
    )
    facets = _run_facets(job, parent, namespace, producer)
    inputs = _inputs(graph.inputs.get(job.id, ()), dataset_namespace, root, producer)
    outputs = _outputs(graph, graph.outputs.get(job.id, ()), dataset_namespace, root, producer)
    start = RunEvent(
        eventType=RunState.START,
        eventTime=event_time(job.started_at),
        run=Run(runId=run_id(job), facets=dict(facets)),
        job=ol_job,
        inputs=inputs,
        outputs=[],
        producer=producer,
    )
    if job.exit_code is None:
        state = RunState.ABORT
    elif job.exit_code == 0:
        state = RunState.COMPLETE
    else:
        state = RunState.FAIL
        facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=_error_message(job),
            # roar runs any command; Python is the one language it can tell apart
            programmingLanguage="PYTHON" if job.env.get("python_versions") else "UNKNOWN",
            producer=producer,
        )
    end = RunEvent(
        eventType=state,
        eventTime=event_time(job.ended_at if job.ended_at is not None else job.started_at),
        run=Run(runId=run_id(job), facets=facets),
        job=ol_job,
        inputs=inputs,
        outputs=outputs,
        producer=producer,
    )
    return start, end


def openlineage_events(
    graph: Lineage,
    namespace: str,
    *,
    dataset_namespace: str = "file",
    root: str | None = None,
    parents: Mapping[int, Job] | None = None,
    producer: str = PRODUCER,
) -> list[dict[str, Any]]:
    """Two OpenLineage RunEvents per job of `graph`, oldest job first, as plain dicts.

    `namespace` is the jobs' namespace (e.g. `roar://<project>`); `dataset_namespace`
    that of the files (`file://<host>`), named by absolute path under `root`. `parents`
    supplies the parent jobs that are not in the graph, for the `parent` facet.
    """
    from openlineage.client.serde import Serde

    known: dict[int, Job] = {**(parents or {}), **graph.jobs}
    events: list[dict[str, Any]] = []
    for job_id in sorted(graph.jobs):
        job = graph.jobs[job_id]
        parent = known.get(job.parent_job) if job.parent_job is not None else None
        for event in _job_events(graph, job, parent, namespace, dataset_namespace, root, producer):
            events.append(Serde.to_dict(event))
    return events


def openlineage_text(events: list[dict[str, Any]], *, ndjson: bool = False) -> str:
    """A JSON array of the events, or with `ndjson` one compact event per line."""
    if ndjson:
        return "\n".join(json.dumps(event, separators=(",", ":")) for event in events)
    return json.dumps(events, indent=2)
