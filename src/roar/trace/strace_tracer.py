"""The primary tracer: system strace, its output streamed through a FIFO and parsed live.

Nothing is written to disk but the FIFO's name, and memory stays bounded by the number of
distinct paths, so a job may open millions of files. Since the trace is parsed as it
comes, the paths the command opens are told (`opened`) while it runs, like the seccomp
tracer does.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence

from roar.errors import TracerUnavailable
from roar.trace.base import (
    Opened,
    StepControl,
    Tracer,
    TraceResult,
    exit_status,
    popen_options,
    wait_child,
)
from roar.trace.model import AccessLog
from roar.trace.strace_parse import TRACED_SYSCALLS, StraceParser

__all__ = ["StraceTracer", "strace_argv"]


def strace_argv(
    strace: str, fifo: str, argv: Sequence[str], *, seccomp_bpf: bool = True
) -> list[str]:
    """strace's command line; `seccomp_bpf` False where a seccomp listener above the job
    (roar inside roar) takes the calls a seccomp-bpf strace would stop on (see
    StraceTracer)."""
    return [
        strace,
        "-f",  # follow forks, vforks, clones and threads
        "-qq",  # no attach/exit chatter
        "-y",  # print paths of file descriptors
        "-z",  # successful calls only: failed opens of a PATH search are noise
        *(["--seccomp-bpf"] if seccomp_bpf else []),  # stop only on traced syscalls: speed
        "-e",
        "signal=none",
        "-e",
        "trace=" + ",".join(f"?{name}" for name in TRACED_SYSCALLS),
        "-o",
        fifo,
        "--",
        *argv,
    ]


def _runs_under_listener() -> bool:
    """Asked when strace was chosen by name: `auto` learns it from seccomp's refusal."""
    from roar.trace.seccomp_kernel import under_listener

    return under_listener()


class StraceTracer(Tracer):
    name = "strace"
    coverage = "full"

    def __init__(self, strace: str | None = None, *, under_listener: bool = False) -> None:
        """`under_listener`: the job already runs under a seccomp user-notification filter
        (roar inside roar). The kernel then answers that filter before strace's own
        seccomp-bpf one (USER_NOTIF outranks TRACE), so a seccomp-bpf strace would see no
        call at all; strace then stops at every syscall instead, slower but complete."""
        found = strace or shutil.which("strace")
        if found is None:
            raise TracerUnavailable(
                "strace is not installed (apt-get install strace)", tracer="strace"
            )
        self.strace = found
        self.seccomp_bpf = not (under_listener or _runs_under_listener())

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
        log = AccessLog() if opened is None else _TellingLog()
        teller: _Teller | None = None
        parser = StraceParser(log, cwd)
        workdir = tempfile.mkdtemp(prefix="roar-strace-")
        fifo = os.path.join(workdir, "trace.fifo")
        os.mkfifo(fifo, 0o600)
        errors: list[BaseException] = []

        def read_trace() -> None:
            try:
                with open(fifo, "rb") as stream:
                    for raw in stream:
                        parser.feed(raw.decode("latin-1"))
            except BaseException as exc:  # surfaced after the run
                errors.append(exc)

        reader = threading.Thread(target=read_trace, name="roar-strace-reader", daemon=True)
        reader.start()
        try:
            if isinstance(log, _TellingLog) and opened is not None:
                teller = _Teller(log, opened)
            proc = subprocess.Popen(
                strace_argv(self.strace, fifo, argv, seccomp_bpf=self.seccomp_bpf),
                cwd=cwd,
                env=dict(env),
                **popen_options(control),
            )
            # strace blocks fatal signals while it traces; the traced command gets them.
            returncode, stopped = wait_child(
                proc, lambda: parser.root_pid or proc.pid, control, meanwhile
            )
            _unblock_reader(fifo, reader)
            reader.join()
        finally:
            if teller is not None:
                teller.close()
            shutil.rmtree(workdir, ignore_errors=True)
        if errors:
            raise errors[0]
        code, signum = exit_status(returncode)
        notes = []
        if parser.unparsed:
            notes.append(f"{parser.unparsed} of {parser.lines} strace lines were not understood")
        return TraceResult(code, signum, log, self.coverage, self.name, notes, stopped)


def _unblock_reader(fifo: str, reader: threading.Thread) -> None:
    """If strace died before opening the FIFO, the reader still waits in open(): end it."""
    reader.join(timeout=0.05)
    if reader.is_alive():
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


class _TellingLog(AccessLog):
    """An access log that also notes each path the first time it is read, or written
    (again, after a delete), for `_Teller` to pass on. Fed by the reader thread only."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.news: list[tuple[str, bool]] = []  # (path, written)

    def read(self, path: str) -> None:
        state = self.paths.get(path)
        if state is None or not state.read:
            with self.lock:
                self.news.append((path, False))
        super().read(path)

    def write(self, path: str) -> None:
        state = self.paths.get(path)
        if state is None or not state.write_intent or state.deleted:
            with self.lock:
                self.news.append((path, True))
        super().write(path)


class _Teller:
    """Every `period` seconds, tells `opened` what the log noted since: paths opened for
    reading only, and paths written. A path both read and written counts as written, as
    the seccomp tracer counts a read-write open. A hint: errors in `opened` are dropped."""

    def __init__(self, log: _TellingLog, opened: Opened, period: float = 0.05) -> None:
        self._log, self._opened, self._period = log, opened, period
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="roar-strace-teller", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.wait(self._period):
            with self._log.lock:
                news, self._log.news = self._log.news, []
            if not news:
                continue
            writes = list(dict.fromkeys(path for path, write in news if write))
            written = set(writes)
            reads = [path for path, write in news if not write and path not in written]
            with contextlib.suppress(Exception):
                self._opened(reads, writes, ())

    def close(self) -> None:
        """After the run: the last news go to nobody. The access log has them all, and
        work started now would only be cut short."""
        self._done.set()
        self._thread.join()
