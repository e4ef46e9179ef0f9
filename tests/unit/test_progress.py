"""The progress bar appears only after a second of work, and only on a terminal."""

from __future__ import annotations

import io

from rich.console import Console

from roar.cli.progress import DelayedProgress


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _progress(clock: FakeClock, enabled: bool = True) -> tuple[DelayedProgress, io.StringIO]:
    sink = io.StringIO()
    console = Console(file=sink, force_terminal=True, width=100)
    return DelayedProgress("hashing", enabled=enabled, clock=clock, console=console), sink


def test_quick_work_shows_nothing() -> None:
    clock = FakeClock()
    progress, sink = _progress(clock)
    progress.start(1000, 1)
    clock.now += 0.5
    progress.advance(1000)
    progress.finish()
    assert not progress.shown
    assert sink.getvalue() == ""


def test_slow_work_shows_a_bar_after_one_second() -> None:
    clock = FakeClock()
    progress, sink = _progress(clock)
    progress.start(1000, 1)
    progress.advance(100)
    assert not progress.shown
    clock.now += 1.2
    progress.advance(100)
    assert progress.shown
    progress.finish()
    assert "hashing" in sink.getvalue()


def test_not_a_terminal_never_shows() -> None:
    clock = FakeClock()
    progress, sink = _progress(clock, enabled=False)
    progress.start(1000, 1)
    clock.now += 5
    progress.advance(500)
    progress.finish()
    assert sink.getvalue() == ""
