"""`roar run` / `roar build` as a library: trace a command, then record it as a job.

The names below load on first use: `roar run` imports `roar.run.launch` to start its
command before the recording modules (and the store under them) have loaded.
"""

from __future__ import annotations

from roar.lazy import lazy_names

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing

__all__ = ["RunOutcome", "RunRequest", "run_job", "step_name"]

if TYPE_CHECKING:
    from roar.run.record import RunOutcome, RunRequest, run_job, step_name


__getattr__ = lazy_names(__name__, dict.fromkeys(__all__, "roar.run.record"))
