"""Retries with exponential backoff and jitter around any backend, for transient failures.

A retried create-only or compare-and-swap write may have landed the first time even
though its reply was lost; the retry then loses the race against itself. So when a retry
of such a write conflicts, the key is read back: holding exactly our bytes means it was
ours, and the write succeeded.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from roar.checkpoints.backends.base import Backend, Blob, Entry
from roar.errors import BackendError, ConflictError, NotFoundError

__all__ = ["RetryingBackend", "backoff_delays"]

T = TypeVar("T")


def backoff_delays(retries: int, base: float = 0.05, cap: float = 5.0) -> list[float]:
    """Sleep before retry i: base * 2**i (capped), times a random factor in [0.5, 1]."""
    return [min(cap, base * 2**i) * random.uniform(0.5, 1.0) for i in range(retries)]


class RetryingBackend(Backend):
    def __init__(self, inner: Backend, max_retries: int, base_delay: float = 0.05) -> None:
        self.inner = inner
        self.url = inner.url
        self.publishes_in_place = inner.publishes_in_place
        self.max_retries = max_retries
        self.base_delay = base_delay

    def _call(self, what: str, call: Callable[[], T]) -> T:
        delays = backoff_delays(self.max_retries, self.base_delay)
        for attempt in range(self.max_retries + 1):
            try:
                return call()
            except BackendError as exc:
                if not exc.retryable:
                    raise
                if attempt == self.max_retries:
                    raise BackendError(
                        exc.code,
                        f"{what} on {self.url} failed after {self.max_retries} retries: "
                        f"{exc.fields['message']}; check the endpoint and network "
                        "(checkpoints.s3_endpoint_url, checkpoints.max_retries)",
                    ) from exc
                time.sleep(delays[attempt])
        raise AssertionError("unreachable")  # pragma: no cover

    def _conditional(self, what: str, key: str, data: bytes, call: Callable[[], str]) -> str:
        retried = False

        def once() -> str:
            nonlocal retried
            try:
                return call()
            except BackendError:
                retried = True
                raise

        try:
            return self._call(what, once)
        except ConflictError:
            if not retried:
                raise
            try:
                blob = self.inner.read(key)
            except NotFoundError:
                raise ConflictError(f"{key} was taken by another writer") from None
            if blob.data == data:
                return blob.etag
            raise

    def read(self, key: str) -> Blob:
        return self._call(f"reading {key}", lambda: self.inner.read(key))

    def write(self, key: str, data: bytes) -> str:
        return self._call(f"writing {key}", lambda: self.inner.write(key, data))

    def create(self, key: str, data: bytes) -> str:
        return self._conditional(f"creating {key}", key, data, lambda: self.inner.create(key, data))

    def swap(self, key: str, data: bytes, etag: str) -> str:
        return self._conditional(
            f"updating {key}", key, data, lambda: self.inner.swap(key, data, etag)
        )

    def delete(self, key: str, etag: str | None = None) -> None:
        self._call(f"deleting {key}", lambda: self.inner.delete(key, etag))

    def list(self, prefix: str) -> list[Entry]:
        return self._call(f"listing {prefix}", lambda: self.inner.list(prefix))

    def staging_root(self) -> Path:
        return self.inner.staging_root()

    def publish(self, prefix: str, source: Path, paths: Sequence[str]) -> None:
        self._call(f"uploading {prefix}", lambda: self.inner.publish(prefix, source, paths))

    def fetch(self, key: str, dest: Path) -> None:
        self._call(f"downloading {key}", lambda: self.inner.fetch(key, dest))

    def local_path(self, key: str) -> Path | None:
        return self.inner.local_path(key)

    def close(self) -> None:
        self.inner.close()
