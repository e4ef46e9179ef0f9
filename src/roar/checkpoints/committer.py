"""Commits in a background thread: the caller blocks only while too many are in flight,
and a failure surfaces at the caller's next submit, at `wait`, or at `close`."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from roar.errors import CommitTimeout

__all__ = ["Committer"]


class Committer:
    def __init__(self, max_in_flight: int = 1) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self._slots = threading.BoundedSemaphore(max_in_flight)
        self._pool: ThreadPoolExecutor | None = None
        self._max = max_in_flight
        self._lock = threading.Lock()
        self._futures: dict[str, Future[Any]] = {}
        self._unreported: list[Future[Any]] = []

    def submit(
        self, key: str, work: Callable[[], Any], prepare: Callable[[], None] | None = None
    ) -> None:
        """Run `work` in the background under `key`; first re-raise an earlier failure.
        `prepare` runs in the caller's thread once a slot is free, just before `work` is
        queued (the copy of an async save: made after the commit before it let go of its
        buffers)."""
        self.raise_failures()
        self._slots.acquire()  # at most max_in_flight commits: wait for a slot
        if prepare is not None:
            try:
                prepare()
            except BaseException:
                self._slots.release()
                raise
        with self._lock:
            # kept: work in flight, unreported failures, and every failure (so that
            # `wait` on a failed key raises its error again instead of polling a commit
            # that will never be COMMITTED); successes are forgotten
            self._futures = {
                k: f
                for k, f in self._futures.items()
                if not f.done() or f in self._unreported or f.exception() is not None
            }
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._max, thread_name_prefix="roar-commit")
            # in a copy of the caller's context: a task collecting lineage sees the commit
            future = self._pool.submit(contextvars.copy_context().run, work)
            self._futures[key] = future
            self._unreported.append(future)
        future.add_done_callback(lambda _f: self._slots.release())

    def pending(self, key: str) -> bool:
        with self._lock:
            return key in self._futures

    def wait(self, key: str, timeout: float | None) -> Any:
        """The result of `key`'s work (its exception re-raised, and then reported)."""
        with self._lock:
            future = self._futures[key]
        try:
            result = future.result(timeout)
        except FutureTimeout:
            raise CommitTimeout(commit=key, timeout=timeout) from None
        finally:
            if future.done():
                self._reported(future)
        return result

    def _reported(self, future: Future[Any]) -> None:
        with self._lock:
            if future in self._unreported:
                self._unreported.remove(future)

    def raise_failures(self) -> None:
        with self._lock:
            failed = [f for f in self._unreported if f.done() and f.exception() is not None]
            for future in failed:
                self._unreported.remove(future)
            self._unreported = [f for f in self._unreported if not f.done()]
        if failed:
            error = failed[0].exception()
            assert error is not None
            raise error

    def drain(self) -> None:
        """Wait for every commit in flight, then re-raise the first unreported failure."""
        with self._lock:
            futures = list(self._futures.values())
        for future in futures:
            future.exception()  # waits
        self.raise_failures()

    def close(self) -> None:
        try:
            self.drain()
        finally:
            with self._lock:
                pool, self._pool = self._pool, None
            if pool is not None:
                pool.shutdown(wait=True)
