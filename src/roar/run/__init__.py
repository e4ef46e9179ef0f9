"""`roar run` / `roar build` as a library: trace a command, then record it as a job."""

from __future__ import annotations

from roar.run.record import RunOutcome, RunRequest, run_job, step_name

__all__ = ["RunOutcome", "RunRequest", "run_job", "step_name"]
