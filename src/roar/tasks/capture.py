"""A task's console output and logging, copied into its run directory as it happens.

`sys.stdout` and `sys.stderr` are wrapped (while any task runs) by a tee that writes to the
console as before and also to the log of the task running in the *current context*, so
threads running tasks at the same time each get their own log. The current task is a
context variable: a thread started by a task's function has its own context and is not
captured, and a task called inside another is captured in both logs.

Logging records reach a handler on the root logger, which writes them to the same log;
if no other handler would have printed a record, it prints it as Python would have
(`logging.lastResort`), so the console looks as it did without roar.

Not captured: output written to file descriptors 1 and 2 directly (C extensions, child
processes), and records of loggers that do not propagate to the root.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO, cast

__all__ = ["LOG_NAME", "captured", "write_to_log"]

LOG_NAME = "output.log"
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _Sink:
    def __init__(self, path: Path) -> None:
        self._file = open(path, "a", encoding="utf-8", errors="backslashreplace", buffering=1)  # noqa: SIM115
        self._lock = threading.Lock()

    def write(self, text: str) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.write(text)

    def close(self) -> None:
        with self._lock:
            self._file.close()


_sinks: contextvars.ContextVar[tuple[_Sink, ...]] = contextvars.ContextVar(
    "roar_task_sinks", default=()
)


def _to_sinks(text: str) -> None:
    for sink in _sinks.get():
        sink.write(text)


class _Tee:
    """Stands in for sys.stdout/sys.stderr; everything but writing goes to the real one."""

    def __init__(self, stream: TextIO | None) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        written = self.stream.write(text) if self.stream is not None else len(text)
        _to_sinks(text)
        return written

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self.stream is not None:
            self.stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


class _LogHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter(_FORMAT))
        self.console: TextIO | None = None  # the real stderr while the tee stands in

    def emit(self, record: logging.LogRecord) -> None:
        if not _sinks.get():
            return
        try:
            text = self.format(record)
        except Exception:
            self.handleError(record)
            return
        _to_sinks(text + "\n")
        last_resort = logging.lastResort
        shown = last_resort is not None and record.levelno >= last_resort.level
        if shown and self.console is not None and not self._handled_elsewhere(record):
            self.console.write(record.getMessage() + "\n")

    def _handled_elsewhere(self, record: logging.LogRecord) -> bool:
        """Would another handler print `record`? (logging.Logger.callHandlers' walk)"""
        logger: logging.Logger | None = logging.getLogger(record.name)
        while logger is not None:
            if any(h is not self and record.levelno >= h.level for h in logger.handlers):
                return True
            if not logger.propagate:
                return False
            logger = logger.parent
        return False


_lock = threading.Lock()
_active = 0
_tees: tuple[_Tee, _Tee] | None = None
_handler = _LogHandler()


def _install() -> None:
    global _active, _tees
    with _lock:
        _active += 1
        if _active > 1:
            return
        _tees = (_Tee(sys.stdout), _Tee(sys.stderr))
        sys.stdout, sys.stderr = cast(TextIO, _tees[0]), cast(TextIO, _tees[1])
        _handler.console = _tees[1].stream
        logging.getLogger().addHandler(_handler)


def _uninstall() -> None:
    global _active, _tees
    with _lock:
        _active -= 1
        if _active > 0 or _tees is None:
            return
        out, err = _tees
        # Put back only what is still ours: whoever replaced a stream since keeps theirs.
        if sys.stdout is cast(TextIO, out) and out.stream is not None:
            sys.stdout = out.stream
        if sys.stderr is cast(TextIO, err) and err.stream is not None:
            sys.stderr = err.stream
        logging.getLogger().removeHandler(_handler)
        _handler.console = None
        _tees = None


@contextlib.contextmanager
def captured(log: Path) -> Iterator[None]:
    """Tee console output and logging of the current context into `log` for the block."""
    sink = _Sink(log)
    token = _sinks.set((*_sinks.get(), sink))
    _install()
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        _uninstall()
        _sinks.reset(token)
        sink.close()


def write_to_log(log: Path, text: str) -> None:
    """Append `text` to a task's log only (a traceback: the console gets it when the
    exception reaches the top)."""
    with open(log, "a", encoding="utf-8", errors="backslashreplace") as handle:
        handle.write(text)
