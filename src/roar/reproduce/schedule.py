"""Run a plan's steps in dependency order, up to N at a time, and stop them all on request.

Build steps run first; a pipeline step starts once every step whose outputs it reads has
finished and every build step is done. After a step fails (non-zero exit), nothing new
starts: the steps already running finish, and the rest are reported as not run. Ctrl-C,
SIGTERM or SIGHUP to roar cancels the running steps (their process groups are ended) so
that no orphaned step keeps writing into a worktree that is about to be removed.
"""

from __future__ import annotations

import contextlib
import shlex
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from types import FrameType

from roar.errors import ReproduceError
from roar.reproduce.plan import PlanStep
from roar.trace.base import StepControl

__all__ = ["Finished", "StepRunner", "run_steps"]


@dataclass(frozen=True)
class Finished:
    """What the scheduler needs to know about a finished step."""

    ok: bool  # exited 0; its outputs may still differ, which does not stop the others
    summary: str  # for the progress line


# What runs one step: the scheduler hands it the step and the control that bounds it.
StepRunner = Callable[[PlanStep, StepControl], Finished]


def _prerequisites(step: PlanStep, builds: frozenset[int]) -> set[int]:
    needs = set(step.needs)
    if step.job.id not in builds:
        needs |= builds
    return needs


@contextlib.contextmanager
def _cancel_on_signals(cancel: threading.Event, received: list[str]) -> Iterator[None]:
    """SIGTERM and SIGHUP set the cancel switch (Ctrl-C arrives as KeyboardInterrupt)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, _frame: FrameType | None) -> None:
        received.append(signal.Signals(signum).name)
        cancel.set()

    saved = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)


def run_steps(
    builds: Sequence[PlanStep],
    steps: Sequence[PlanStep],
    run_one: StepRunner,
    *,
    jobs: int = 1,
    timeout: float | None = None,
    progress: Callable[[str], None] = lambda _line: None,
) -> list[PlanStep]:
    """Run every step it can; returns the steps that were not run (after a failure)."""
    build_ids = frozenset(step.job.id for step in builds)
    remaining = [*builds, *steps]
    total = len(remaining)
    finished: set[int] = set()
    cancel = threading.Event()
    received: list[str] = []
    failed = False
    started = 0
    running: dict[Future[Finished], PlanStep] = {}
    with (
        ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="roar-step") as pool,
        _cancel_on_signals(cancel, received),
    ):
        try:
            while remaining or running:
                if not failed and not cancel.is_set():
                    for step in [s for s in remaining if _prerequisites(s, build_ids) <= finished][
                        : max(1, jobs) - len(running)
                    ]:
                        remaining.remove(step)
                        started += 1
                        progress(
                            f"[{started}/{total}] {_name(step)}: {shlex.join(step.job.command)}"
                        )
                        control = StepControl(timeout=timeout, cancel=cancel)
                        running[pool.submit(run_one, step, control)] = step
                if not running:
                    break  # nothing can start: a step failed, or roar was told to stop
                done, _ = wait(running, timeout=0.5, return_when=FIRST_COMPLETED)
                for future in done:
                    step = running.pop(future)
                    outcome = future.result()
                    finished.add(step.job.id)
                    failed = failed or not outcome.ok
                    progress(f"{_name(step)}: {outcome.summary}")
        except BaseException:
            cancel.set()  # Ctrl-C or an error: end the running steps before leaving
            raise
    if received:
        raise ReproduceError(
            f"stopped by {received[0]}: the steps that ran were recorded, the others not run"
        )
    return remaining


def _name(step: PlanStep) -> str:
    return f"@{step.job.id} {step.job.step}"
