"""`roar export` on a real recorded pipeline (a diamond with one failed job).

OpenLineage events are validated offline against the spec's JSON Schema files in
shared/openlineage-spec (every event, and every facet against the file its `_schemaURL`
names, with format checking on); PROV-JSON and PROV-N are read back with `prov`.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from prov import read as read_prov
from prov.model import ProvActivity, ProvDerivation, ProvEntity, ProvGeneration, ProvUsage
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from roar.export import (
    files_namespace,
    missing_parents,
    openlineage_events,
    project_namespace,
    prov_document,
)
from roar.export.openlineage import run_id
from roar.lineage import load_lineage, resolve_ref
from roar.models import FileRef, JobSpec
from tests.helpers import Result, run_roar
from tests.trace.conftest import Workspace

SPEC = Path(__file__).resolve().parents[3] / "shared" / "openlineage-spec"
STEPS = [
    ("prep", "sort raw.txt > clean.txt"),
    ("feat_a", "head -n 2 clean.txt > a.txt"),
    ("feat_b", "tail -n 2 clean.txt > b.txt"),
    ("broken", "cat clean.txt > /dev/null; exit 4"),
    ("train", "cat a.txt b.txt > model.bin"),
]


def roar_ok(ws: Workspace, *args: str) -> str:
    result = run_roar(*args, cwd=ws.root)
    assert result.code == 0, result.stderr
    return result.stdout


def one_error_line(result: Result, code: int, words: str) -> None:
    assert result.code == code, result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("roar: error: ")
    assert words in lines[0]


@pytest.fixture
def pipeline(ws: Workspace) -> Workspace:
    ws.write("raw.txt", "3\n1\n2\n")
    for name, script in STEPS:
        run_roar("run", "-q", "-n", name, "sh", "-c", script, cwd=ws.root)
    return ws


# ---------------------------------------------------------------- OpenLineage


class Spec:
    """The OpenLineage JSON Schemas, resolvable offline by their `$id`s."""

    def __init__(self, root: Path) -> None:
        if not (root / "OpenLineage.json").is_file():
            pytest.fail(f"the OpenLineage spec is missing at {root}")
        self.root = root
        resources = []
        for path in [root / "OpenLineage.json", *sorted((root / "facets").glob("*.json"))]:
            contents = json.loads(path.read_text())
            resource = Resource.from_contents(contents, default_specification=DRAFT202012)
            resources.append((contents["$id"], resource))
        self.registry: Registry[Any] = Registry().with_resources(resources)

    def validate(self, instance: object, ref: str) -> None:
        Draft202012Validator(
            {"$ref": ref},
            registry=self.registry,
            format_checker=Draft202012Validator.FORMAT_CHECKER,
        ).validate(instance)

    def facet_schema(self, schema_url: str) -> str:
        """The `$ref` of a facet's `_schemaURL`, read from the facet file of that name."""
        base, _, fragment = schema_url.partition("#")
        path = self.root / "facets" / base.rsplit("/", 1)[-1]
        assert path.is_file(), f"no schema file for {schema_url}"
        return f"{json.loads(path.read_text())['$id']}#{fragment}"

    def validate_event(self, event: dict[str, Any]) -> int:
        """Validate a RunEvent and each of its facets; return how many facets there were."""
        self.validate(event, event["schemaURL"])
        facets: list[dict[str, Any]] = [
            *event["run"].get("facets", {}).values(),
            *event["job"].get("facets", {}).values(),
        ]
        for dataset in [*event.get("inputs", []), *event.get("outputs", [])]:
            for key in ("facets", "inputFacets", "outputFacets"):
                facets.extend(dataset.get(key, {}).values())
        for facet in facets:
            self.validate(facet, self.facet_schema(facet["_schemaURL"]))
        return len(facets)


@pytest.fixture(scope="module")
def spec() -> Spec:
    return Spec(SPEC)


def test_format_checking_is_really_on(spec: Spec) -> None:
    event = {
        "eventTime": "2024-05-01T12:00:00.000Z",
        "producer": "urn:roar:test",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "eventType": "START",
        "run": {"runId": "0190b6a0-58b4-7c9b-8c0e-3c9c1c6f1a2b"},
        "job": {"namespace": "n", "name": "j"},
    }
    spec.validate_event(event)
    for field, bad in [("eventTime", "yesterday"), ("producer", "not a uri")]:
        with pytest.raises(ValidationError, match="is not a"):
            spec.validate_event({**event, field: bad})
    with pytest.raises(ValidationError, match="is not a 'uuid'"):
        spec.validate_event({**event, "run": {"runId": "not-a-uuid"}})


def test_openlineage_events_validate_against_the_spec(pipeline: Workspace, spec: Spec) -> None:
    text = roar_ok(pipeline, "export", "--down", "raw.txt", "--format", "openlineage")
    events = json.loads(text)
    assert sum(spec.validate_event(event) for event in events) > 0
    kinds = [event["eventType"] for event in events]
    assert (kinds.count("START"), kinds.count("COMPLETE"), kinds.count("FAIL")) == (5, 4, 1)
    assert len(events) == 10

    by_run: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_run.setdefault(event["run"]["runId"], []).append(event)
    assert len(by_run) == 5
    for pair in by_run.values():
        assert (len(pair), pair[0]["eventType"]) == (2, "START")
        assert pair[0]["eventTime"] <= pair[1]["eventTime"]
        assert pair[0]["job"] == pair[1]["job"]

    (failed,) = [e for e in events if e["eventType"] == "FAIL"]
    assert (failed["job"]["namespace"], failed["job"]["name"]) == ("roar://repo", "broken")
    assert failed["run"]["facets"]["errorMessage"]["message"] == "exit code 4"
    assert all("errorMessage" not in e["run"]["facets"] for e in events if e is not failed)

    model = json.loads(roar_ok(pipeline, "show", "model.bin", "--json"))
    train_end = next(
        e for e in events if (e["job"]["name"], e["eventType"]) == ("train", "COMPLETE")
    )
    (output,) = train_end["outputs"]
    assert output["name"] == str(pipeline.root / "model.bin")
    assert output["namespace"].startswith("file://")
    assert output["facets"]["version"]["datasetVersion"] == model["hash"]
    assert output["outputFacets"]["outputStatistics"]["size"] == model["size"]
    assert sorted(Path(i["name"]).name for i in train_end["inputs"]) == ["a.txt", "b.txt"]


def test_run_ids_are_stable_uuid7s(pipeline: Workspace) -> None:
    args = ("export", "--down", "raw.txt", "--format", "openlineage")
    first, second = roar_ok(pipeline, *args), roar_ok(pipeline, *args)
    assert first == second
    started = {
        job["step"]: job["started_at"] for job in json.loads(roar_ok(pipeline, "log", "--json"))
    }
    for event in json.loads(first):
        value = uuid.UUID(event["run"]["runId"])
        assert (value.version, value.variant) == (7, uuid.RFC_4122)
        assert value.int >> 80 == round(started[event["job"]["name"]] * 1000)  # ms since epoch


def test_ndjson_and_the_api_agree_with_the_cli(pipeline: Workspace) -> None:
    array = json.loads(roar_ok(pipeline, "export", "@5", "--format", "openlineage"))
    lines = roar_ok(pipeline, "export", "@5", "--format", "openlineage", "--ndjson")
    assert [json.loads(line) for line in lines.splitlines()] == array
    with pipeline.project.open_store() as store:
        target = resolve_ref(store, "@5", project_root=pipeline.root, cwd=pipeline.root)
        graph = load_lineage(store, target, "up", None)
    events = openlineage_events(
        graph,
        project_namespace(pipeline.root),
        dataset_namespace=files_namespace(),
        root=str(pipeline.root),
    )
    assert events == array
    assert {e["job"]["name"] for e in events} == {"prep", "feat_a", "feat_b", "train"}


def test_parent_facet_names_the_parent_run(pipeline: Workspace, spec: Spec) -> None:
    with pipeline.project.open_store() as store:
        train = store.get_job(5)
        model = store.newest_artifact_at("model.bin")
        assert model is not None
        store.record_job(
            JobSpec(
                step="evaluate",
                command=("python", "evaluate.py"),
                started_at=train.started_at + 1,
                ended_at=train.started_at + 2,
                exit_code=0,
                parent_job=5,
            ),
            [FileRef("model.bin", model)],
            [],
        )
    events = json.loads(
        roar_ok(pipeline, "export", "--down", "model.bin", "--format", "openlineage")
    )
    assert [e["job"]["name"] for e in events] == ["evaluate", "evaluate"]
    for event in events:
        spec.validate_event(event)
        parent = event["run"]["facets"]["parent"]
        assert parent["run"]["runId"] == run_id(train)
        assert (parent["job"]["namespace"], parent["job"]["name"]) == ("roar://repo", "train")
    with pipeline.project.open_store() as store:
        target = resolve_ref(store, "model.bin", project_root=pipeline.root, cwd=pipeline.root)
        assert missing_parents(load_lineage(store, target, "down", None)) == [5]


# ---------------------------------------------------------------- PROV


def test_prov_json_round_trips(pipeline: Workspace) -> None:
    text = roar_ok(pipeline, "export", "--down", "raw.txt", "--format", "prov-json")
    document = read_prov(text, format="json")
    assert document is not None
    counts = {
        kind.__name__: len(list(document.get_records(kind)))
        for kind in (ProvEntity, ProvActivity, ProvUsage, ProvGeneration, ProvDerivation)
    }
    assert counts == {
        "ProvEntity": 5,  # raw, clean, a, b, model
        "ProvActivity": 5,  # prep, feat_a, feat_b, broken, train
        "ProvUsage": 6,  # raw; clean x3; a, b
        "ProvGeneration": 4,  # clean, a, b, model
        "ProvDerivation": 5,  # clean<-raw, a<-clean, b<-clean, model<-a, model<-b
    }
    with pipeline.project.open_store() as store:
        target = resolve_ref(store, "raw.txt", project_root=pipeline.root, cwd=pipeline.root)
        original = prov_document(
            load_lineage(store, target, "down", None), project_namespace(pipeline.root)
        )
    assert document == original
    assert json.loads(text)["prefix"]["artifact"] == "roar://repo/artifact/"


def test_prov_n_round_trips(pipeline: Workspace) -> None:
    provn = roar_ok(pipeline, "export", "model.bin", "--format", "prov-n")
    assert provn.startswith("document")
    assert provn.rstrip().endswith("endDocument")
    assert "wasDerivedFrom(" in provn
    as_json = roar_ok(pipeline, "export", "model.bin", "--format", "prov-json")
    assert read_prov(provn, format="provn") == read_prov(as_json, format="json")


# ---------------------------------------------------------------- files and errors


def test_output_file_and_diagrams(pipeline: Workspace) -> None:
    target = pipeline.root / "lineage.json"
    result = run_roar("export", "model.bin", "--format", "openlineage", "-o", "lineage.json",
                      cwd=pipeline.root)  # fmt: skip
    assert (result.code, result.stdout) == (0, "")
    stdout = roar_ok(pipeline, "export", "model.bin", "--format", "openlineage")
    assert target.read_text() == stdout
    assert [p.name for p in pipeline.root.glob(".lineage.json.*")] == []  # no temp file left
    for fmt in ("dot", "mermaid"):
        exported = roar_ok(pipeline, "export", "model.bin", "--format", fmt)
        assert exported == roar_ok(pipeline, "trace", "model.bin", "--format", fmt)


def test_errors_are_one_line(pipeline: Workspace) -> None:
    one_error_line(
        run_roar("export", "nope.txt", "--format", "openlineage", cwd=pipeline.root),
        2,
        "no job or artifact matches 'nope.txt'",
    )
    one_error_line(
        run_roar("export", "model.bin", "--format", "yaml", cwd=pipeline.root),
        2,
        "unknown export format 'yaml'; choose one of: openlineage, prov-json",
    )
    one_error_line(
        run_roar("export", "model.bin", "--format", "dot", "--ndjson", cwd=pipeline.root),
        2,
        "--ndjson only applies to --format openlineage",
    )
    one_error_line(
        run_roar(
            "export", "model.bin", "--format", "dot", "-o", "no/such/dir/x.dot", cwd=pipeline.root
        ),  # fmt: skip
        1,
        "cannot write",
    )


def test_secrets_on_the_command_line_stay_out_of_exports(ws: Workspace, spec: Spec) -> None:
    """The record keeps the command as it ran (a reproduction runs it again); what leaves
    the machine does not carry the token."""
    ws.write("step.py", "import sys; open('out.txt', 'w').write(sys.argv[-1][:1])\n")
    secret = "hf_s3cr3tvalue"
    result = run_roar("run", "-q", "python3", "step.py", "--hf-token", secret, cwd=ws.root)
    assert result.code == 0, result.stderr
    shown = json.loads(run_roar("show", "@1", "--json", cwd=ws.root).stdout)
    assert shown["command"][-1] == secret
    lineage = run_roar("export", "out.txt", "--format", "openlineage", cwd=ws.root).stdout
    prov = run_roar("export", "out.txt", "--format", "prov-json", cwd=ws.root).stdout
    for text in (lineage, prov):
        assert secret not in text
        assert "--hf-token '<redacted>'" in text
    assert all(spec.validate_event(event) for event in json.loads(lineage))
