"""The one interface every tracer implements, and what a trace hands back."""

from __future__ import annotations

import abc
import contextlib
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import FrameType

from roar.models import TraceCoverage
from roar.trace.model import AccessLog

__all__ = ["ForwardSignals", "TraceResult", "Tracer", "exit_status"]


@dataclass
class TraceResult:
    exit_code: int  # the command's, 128+N when killed by signal N
    signal: int | None
    log: AccessLog
    coverage: TraceCoverage
    tracer: str
    notes: list[str] = field(default_factory=list)


class Tracer(abc.ABC):
    name: str
    coverage: TraceCoverage

    @abc.abstractmethod
    def run(self, argv: Sequence[str], *, cwd: str, env: Mapping[str, str]) -> TraceResult:
        """Run `argv` to completion with stdio passed through, recording file accesses."""


def exit_status(returncode: int) -> tuple[int, int | None]:
    """Popen's returncode (-N for signal N) as a shell would report it, and the signal."""
    if returncode < 0:
        return 128 - returncode, -returncode
    return returncode, None


class ForwardSignals:
    """While a child runs: SIGTERM and SIGHUP sent to roar are passed on to it.

    SIGINT is ignored here: Ctrl-C already reaches the whole foreground process group,
    so the child gets it from the terminal and roar stays alive to record the job.
    """

    _FORWARDED = (signal.SIGTERM, signal.SIGHUP)

    def __init__(self, target: Callable[[], int]) -> None:
        self._target = target  # the pid to signal, asked for when a signal arrives
        self._saved: dict[int, object] = {}
        self.received: int | None = None

    def _forward(self, signum: int, _frame: FrameType | None) -> None:
        self.received = signum
        with contextlib.suppress(ProcessLookupError):
            os.kill(self._target(), signum)

    def __enter__(self) -> ForwardSignals:
        self._saved[signal.SIGINT] = signal.signal(signal.SIGINT, signal.SIG_IGN)
        for signum in self._FORWARDED:
            self._saved[signum] = signal.signal(signum, self._forward)
        return self

    def __exit__(self, *_exc: object) -> None:
        for signum, handler in self._saved.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
