"""`roar reproduce --json`: the plan, and with --run the result (docs/json/reproduce)."""

from __future__ import annotations

from typing import Any

from roar.reproduce import Plan, PlanStep, ReproduceReport
from roar.reproduce.execute import SourceState
from roar.reproduce.plan import Source

__all__ = ["reproduce_document"]


def _step(step: PlanStep) -> dict[str, Any]:
    job = step.job
    return {
        "id": job.id,
        "uid": job.uid,
        "step": job.step,
        "kind": job.kind,
        "command": list(job.command),
        "cwd": job.cwd,
        "needs": list(step.needs),
        "outputs": [{"path": path, "hash": digest} for path, digest in step.outputs],
    }


def _result(report: ReproduceReport) -> dict[str, Any]:
    mismatch = report.first_mismatch
    return {
        "target_matches": report.target_matches,
        "first_mismatch": None if mismatch is None else mismatch.step.job.id,
        "steps": [
            {
                "replays": result.step.job.id,
                "job": result.reproduced_job,
                "exit_code": result.exit_code,
                "stopped": result.stopped,
                "outputs": [
                    {"path": path, "expected": expected, "got": got, "matches": got == expected}
                    for path, expected, got in result.outputs
                ],
            }
            for result in report.steps
        ],
        "not_run": [step.job.id for step in report.not_run],
        "restored": list(report.restored),
        "left_alone": list(report.kept_different),
    }


def reproduce_document(
    plan: Plan,
    states: dict[Source, SourceState],
    differences: list[str],
    report: ReproduceReport | None,
) -> dict[str, Any]:
    return {
        "target": {"hash": plan.target, "path": plan.target_path},
        "commit": plan.commit,
        "patch_hash": plan.patch_hash,
        "builds": [_step(step) for step in plan.builds],
        "steps": [_step(step) for step in plan.steps],
        "sources": [
            {"path": s.path, "hash": s.digest, "read_by": list(s.read_by), "state": states[s]}
            for s in plan.sources
        ],
        "environment": differences,
        "warnings": list(plan.warnings),
        "result": None if report is None else _result(report),
    }
