"""A progress bar that appears only when work has taken longer than a second."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["DelayedProgress"]


class DelayedProgress:
    """Implements roar.hashing.ProgressSink with a rich bar on stderr, shown after `delay`.

    Quick jobs print nothing; output that is not a terminal never gets a bar. The bar is
    created lazily so that rich is imported only when it is really drawn.
    """

    def __init__(
        self,
        description: str,
        *,
        delay: float = 1.0,
        enabled: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
        console: Any = None,
    ) -> None:
        self._description = description
        self._delay = delay
        self._enabled = sys.stderr.isatty() if enabled is None else enabled
        self._clock = clock
        self._console = console
        self._lock = threading.Lock()
        self._started_at = 0.0
        self._total = 0
        self._done = 0
        self._bar: Any = None
        self._task: Any = None

    @property
    def shown(self) -> bool:
        return self._bar is not None

    def start(self, total_bytes: int, total_files: int) -> None:
        self._started_at, self._total, self._done = self._clock(), total_bytes, 0

    def advance(self, nbytes: int) -> None:
        with self._lock:  # called from the hasher's worker threads
            self._done += nbytes
            if self._bar is None:
                if not self._enabled or self._clock() - self._started_at < self._delay:
                    return
                self._show()
            self._bar.update(self._task, completed=self._done)

    def finish(self) -> None:
        with self._lock:
            if self._bar is not None:
                self._bar.update(self._task, completed=self._total)
                self._bar.stop()
                self._bar = None

    def _show(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        console = self._console or Console(stderr=True)
        self._bar = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self._task = self._bar.add_task(self._description, total=self._total)
        self._bar.start()
