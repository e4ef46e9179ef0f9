"""Reproduce an artifact: plan from its lineage, replay in a clean worktree, verify hashes."""

from __future__ import annotations

from roar.reproduce.execute import (
    ReproduceOptions,
    ReproduceReport,
    StepResult,
    check_can_run,
    environment_differences,
    load_plan,
    reproduce,
    source_status,
)
from roar.reproduce.plan import Plan, PlanStep, Source, make_plan

__all__ = [
    "Plan",
    "PlanStep",
    "ReproduceOptions",
    "ReproduceReport",
    "Source",
    "StepResult",
    "check_can_run",
    "environment_differences",
    "load_plan",
    "make_plan",
    "reproduce",
    "source_status",
]
