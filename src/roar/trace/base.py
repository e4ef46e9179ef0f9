"""The one interface every tracer implements, and what a trace hands back."""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # signal without its enums (1-2 ms)
import abc
import contextlib
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from types import FrameType

from roar.named_tuple import NamedTuple
from roar.trace.model import AccessLog, Before, RewriteFacts

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import Any, Protocol

    class ChildProcess(Protocol):
        """What the tracers use of a started command: a `subprocess.Popen`, or the
        SpawnedChild of a command roar's C extension started (trace/spawned.py)."""

        pid: int
        returncode: int | None

        def wait(self, timeout: float | None = None) -> int: ...

        def poll(self) -> int | None: ...

    from roar.models import TraceCoverage


__all__ = [
    "Opened",
    "ForwardSignals",
    "StepControl",
    "TraceResult",
    "Tracer",
    "exit_status",
    "popen_options",
    "wait_child",
]


class TraceResult(NamedTuple):
    exit_code: int  # the command's, 128+N when killed by signal N
    signal: int | None
    log: AccessLog
    coverage: TraceCoverage
    tracer: str
    notes: list[str]
    stopped: str | None = None  # why roar ended it early ("timed out after 10 s")
    # what a tail hasher's proof needs (run/tail.py); None from a tracer that cannot tell
    rewrites: RewriteFacts | None = None


class StepControl:
    """Bounds for an unattended run (a reproduction step): a time limit and a cancel switch.

    A controlled command runs in its own process group with stdin from /dev/null, so the
    whole tree it starts can be ended together, from any thread, without a terminal.
    """

    __slots__ = ("cancel", "grace", "output", "timeout")

    def __init__(
        self,
        timeout: float | None = None,
        cancel: threading.Event | None = None,
        grace: float = 5.0,  # seconds between SIGTERM and SIGKILL
        output: int | None = None,  # a file descriptor for stdout and stderr (None: roar's)
    ) -> None:
        self.timeout = timeout
        self.cancel = threading.Event() if cancel is None else cancel
        self.grace = grace
        self.output = output

    def with_output(self, output: int) -> StepControl:
        """The same bounds and cancel switch, with the command's output going to `output`."""
        return StepControl(self.timeout, self.cancel, self.grace, output)

    def __repr__(self) -> str:
        return (
            f"StepControl(timeout={self.timeout!r}, cancelled={self.cancel.is_set()}, "
            f"grace={self.grace!r}, output={self.output!r})"
        )


#: `opened(reads, writes, fresh)`: paths a running command opened, as the tracer learns
#: of them; `fresh`: those of `writes` that a tracer reporting tails (SeccompTracer.start)
#: saw opened by an emptying or creating open, each with the file it named before.
Opened = Callable[[Sequence[str], Sequence[str], Sequence[tuple[str, Before]]], object]


class Tracer(abc.ABC):
    name: str
    coverage: TraceCoverage

    @abc.abstractmethod
    def run(
        self,
        argv: Sequence[str],
        *,
        cwd: str,
        env: Mapping[str, str],
        control: StepControl | None = None,
        meanwhile: Callable[[], object] | None = None,
        opened: Opened | None = None,
    ) -> TraceResult:
        """Run `argv` to completion with stdio passed through, recording file accesses.

        `meanwhile` is roar's own work to do once the command has started, while it runs
        (see `wait_child`). `opened`, where the tracer can tell as the run goes, is given
        (from a thread of roar's) batches of paths the command opened: for reading only,
        and for writing (or renamed, linked, created, truncated). A hint for work that can
        start early; what the job did is the access log returned at the end. A tracer that
        sees the calls only then never calls it."""


def exit_status(returncode: int) -> tuple[int, int | None]:
    """Popen's returncode (-N for signal N) as a shell would report it, and the signal."""
    if returncode < 0:
        return 128 - returncode, -returncode
    return returncode, None


class ForwardSignals:
    """While a child runs: SIGTERM and SIGHUP sent to roar are passed on to it.

    SIGINT is ignored here: Ctrl-C already reaches the whole foreground process group,
    so the child gets it from the terminal and roar stays alive to record the job.

    Only the main thread can take signals; elsewhere (a tracer probe run by a reproduction
    step on a worker thread) this does nothing, and the thread's owner handles them.
    """

    _FORWARDED = (_signal.SIGTERM, _signal.SIGHUP)

    def __init__(self, target: Callable[[], int]) -> None:
        self._target = target  # the pid to signal, asked for when a signal arrives
        self._saved: dict[int, object] = {}
        self.received: int | None = None

    def _forward(self, signum: int, _frame: FrameType | None) -> None:
        self.received = signum
        with contextlib.suppress(ProcessLookupError):
            os.kill(self._target(), signum)

    def __enter__(self) -> ForwardSignals:
        if threading.current_thread() is not threading.main_thread():
            return self
        self._saved[_signal.SIGINT] = _signal.signal(_signal.SIGINT, _signal.SIG_IGN)
        for signum in self._FORWARDED:
            self._saved[signum] = _signal.signal(signum, self._forward)
        return self

    def __exit__(self, *_exc: object) -> None:
        for signum, handler in self._saved.items():
            _signal.signal(signum, handler)


def popen_options(control: StepControl | None) -> dict[str, Any]:
    """Extra Popen arguments for a controlled run: its own process group, no stdin."""
    if control is None:
        return {}
    import subprocess  # here: the run path starts its command without it (spawned.py)

    options: dict[str, Any] = {"process_group": 0, "stdin": subprocess.DEVNULL}
    if control.output is not None:
        options.update(stdout=control.output, stderr=subprocess.STDOUT)
    return options


def wait_child(
    proc: ChildProcess,
    signal_target: Callable[[], int],
    control: StepControl | None,
    meanwhile: Callable[[], object] | None = None,
) -> tuple[int, str | None]:
    """Wait for `proc`: its returncode, and why roar stopped it early (None if it did not).

    Without a control, signals sent to roar are forwarded as for an interactive run. With
    one, the process group is ended (SIGTERM, then SIGKILL after the grace period) when the
    time limit passes or the cancel switch is set. `meanwhile` runs first, with signals
    already handled as for the wait: preparation that would otherwise follow the command.
    A failure there is not the command's: it is dropped here, and whatever needed that
    work meets the error again when it does the work itself.
    """
    if control is None:
        with ForwardSignals(signal_target):
            _prepare(meanwhile)
            return proc.wait(), None
    import subprocess  # only a controlled wait needs its TimeoutExpired

    _prepare(meanwhile)
    deadline = None if control.timeout is None else time.monotonic() + control.timeout
    while True:
        with contextlib.suppress(subprocess.TimeoutExpired):
            return proc.wait(timeout=0.1), None
        if control.cancel.is_set():
            return _end_group(proc, control.grace), "cancelled"
        if deadline is not None and time.monotonic() >= deadline:
            return _end_group(proc, control.grace), f"timed out after {control.timeout:g} s"


def _prepare(meanwhile: Callable[[], object] | None) -> None:
    if meanwhile is not None:
        with contextlib.suppress(Exception):
            meanwhile()


def _end_group(proc: ChildProcess, grace: float) -> int:
    """SIGTERM the group, give it `grace` seconds, then SIGKILL whatever is left of it."""
    import subprocess

    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, _signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, _signal.SIGKILL)  # stragglers that ignored SIGTERM, or all
    return proc.wait()
