"""A command started under the seccomp filter by roar's C extension, before the rest of
roar has loaded (run/launch.py), and the supervision that starts with it.

`roar run` starts its command first and loads itself while the command runs. Python's
subprocess and threading modules, the tracer and typing cost tens of milliseconds to
import, and every run used to wait for them before its command started. So this module
imports only os and the interpreter's built-in `_thread` and `_signal`: the C extension
forks, installs the filter and executes the command (`_supervisor.spawn`), and a thread
started here answers the command's stopped calls at once (`_supervisor.serve`), its
records kept in an outbox for the tracer, which adopts all of it when it has loaded
(`SeccompTracer.adopt`).
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # signal without its enums (2 ms)
import _thread
import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from types import FrameType

__all__ = ["SpawnedChild", "spawn"]

#: Signals passed on to the command until the tracer takes over (as ForwardSignals does).
_FORWARDED = (_signal.SIGTERM, _signal.SIGHUP)


class SpawnedChild:
    """The command's process, as much of `subprocess.Popen` as the tracer uses (`pid`,
    `returncode`, `wait`, `poll`), and the supervision that started with it."""

    def __init__(
        self,
        pid: int,
        listener: int,
        status: int,
        synchronous: bool,
        table: bytes,
        outbox: object,
        tails: bool,
    ) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self.synchronous, self.table, self.outbox, self.tails = synchronous, table, outbox, tails
        self._listener, self._status = listener, status
        self._served: tuple[bytes, bool] | None = None
        self._serve_error: OSError | None = None
        self._serving = _thread.allocate_lock()
        self._serving.acquire()
        self._saved_signals: dict[int, object] = {}
        _thread.start_new_thread(self._serve, ())

    # -- supervision ---------------------------------------------------------------------

    def _serve(self) -> None:
        from roar.trace import _supervisor

        try:
            self._served = _supervisor.serve(self._listener, self.table, self.outbox)
        except OSError as exc:
            self._serve_error = exc
        except Exception as exc:  # noqa: BLE001 - out of memory, a bug: reported as OSError
            self._serve_error = OSError(f"the seccomp supervisor failed: {exc!r}")
        finally:
            os.close(self._listener)  # releases any process still waiting (after a failure)
            self._serving.release()

    def open_creates(self) -> None:
        """Let the command's calls that only make a new name go on (the gate holds the
        rest until the tracer opens it)."""
        from roar.trace import _supervisor

        _supervisor.open_creates(self.outbox)

    def served(self) -> tuple[bytes, bool]:
        """Wait until no process of the command is left: the C loop's (records, complete)
        not yet taken from the outbox. Raises the OSError that ended supervision."""
        with self._serving:
            pass
        if self._serve_error is not None:
            raise self._serve_error
        assert self._served is not None
        return self._served

    def exec_error(self) -> int | None:
        """The errno of a failed execve (once the command has ended), else None; asked
        once (then close() has nothing left to do)."""
        if self._status < 0:
            return None
        try:
            report = os.read(self._status, 8)
        except OSError:
            return None
        finally:
            self.close()
        if len(report) < 8:
            return None
        return int.from_bytes(report[4:8], "little", signed=True) or None

    def close(self) -> None:
        """Let go of the execve report, unread (the command was ended)."""
        if self._status >= 0:
            os.close(self._status)
            self._status = -1

    # -- Popen's part ----------------------------------------------------------------------

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid == self.pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if timeout is not None:
            import subprocess
            import time

            deadline = time.monotonic() + timeout
            while self.poll() is None:
                if time.monotonic() >= deadline:
                    raise subprocess.TimeoutExpired([str(self.pid)], timeout)
                time.sleep(0.005)
        elif self.returncode is None:
            _pid, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
        assert self.returncode is not None
        return self.returncode

    # -- signals until the tracer forwards them ------------------------------------------

    def forward_signals(self) -> None:
        """Ctrl-C reaches the command from the terminal: roar ignores it and lives on to
        record the job; SIGTERM and SIGHUP sent to roar are passed on to the command."""
        try:
            self._saved_signals[_signal.SIGINT] = _signal.signal(_signal.SIGINT, _signal.SIG_IGN)
            for signum in _FORWARDED:
                self._saved_signals[signum] = _signal.signal(signum, self._forward)
        except ValueError:  # not the main thread: its owner handles signals
            self.restore_signals()

    def _forward(self, signum: int, _frame: FrameType | None) -> None:
        # not contextlib.suppress: importing contextlib costs a millisecond here
        try:  # noqa: SIM105
            os.kill(self.pid, signum)
        except ProcessLookupError:
            pass

    def restore_signals(self) -> None:
        """Put back the handlers forward_signals replaced (the tracer installs its own)."""
        for signum, handler in self._saved_signals.items():
            _signal.signal(signum, handler)
        self._saved_signals.clear()


def spawn(
    path: str,
    argv: Sequence[str],
    env: Mapping[str, str],
    cwd: str,
    program: bytes,
    table: bytes,
    *,
    gated: bool,
    tails: bool,
) -> SpawnedChild:
    """Start `path` (resolved; `argv[0]` as given) under the filter `program`, served at
    once by the C loop with `table`; `gated` holds every change to a file until the
    tracer opens the gate (SeccompTracer.start). Raises OSError when it could not start."""
    from roar.trace import _supervisor

    fsencode = os.fsencode
    envp = [fsencode(name) + b"=" + fsencode(value) for name, value in env.items()]
    outbox = _supervisor.outbox(gated)
    pid, listener, status, synchronous = _supervisor.spawn(
        fsencode(path), [fsencode(arg) for arg in argv], envp, fsencode(cwd), program
    )
    child = SpawnedChild(pid, listener, status, synchronous, table, outbox, tails)
    child.forward_signals()
    return child
