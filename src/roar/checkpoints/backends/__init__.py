"""Storage backends for checkpoint stores, picked by the URL's scheme."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from roar.checkpoints.backends.base import Backend, Blob, Entry
from roar.errors import UnsupportedStoreUrl

__all__ = ["Backend", "BackendSettings", "Blob", "Entry", "open_backend"]


@dataclass(frozen=True)
class BackendSettings:
    endpoint_url: str | None = None
    region: str | None = None
    timeout: float = 30.0
    cache_dir: Path | None = None


def open_backend(url: str, settings: BackendSettings) -> Backend:
    """`/path`, `./path`, `file:///path` -> local; `s3://bucket/prefix` -> S3."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        from roar.checkpoints.backends.local import LocalBackend

        return LocalBackend(Path(url))
    if scheme == "file":
        from roar.checkpoints.backends.local import LocalBackend

        return LocalBackend(Path(rest))
    if scheme == "s3":
        from roar.checkpoints.backends.s3 import S3Backend

        return S3Backend.from_url(url, settings)
    raise UnsupportedStoreUrl(url=url, scheme=scheme)
