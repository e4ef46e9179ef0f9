"""BLAKE3 of one file: small files in one read, big ones through mmap on all cores."""

from __future__ import annotations

import mmap
import os
from collections.abc import Callable

from blake3 import blake3

__all__ = ["BIG_FILE_BYTES", "CHUNK_BYTES", "hash_bytes", "hash_file"]

#: Files at least this big are mapped and hashed with blake3's thread pool.
BIG_FILE_BYTES = 4 << 20
#: Bytes fed to blake3 per call on big files: large enough to keep every core busy,
#: small enough to report progress several times a second.
CHUNK_BYTES = 64 << 20


def hash_bytes(data: bytes) -> str:
    return blake3(data).hexdigest()


def hash_file(path: str | os.PathLike[str], advance: Callable[[int], None] | None = None) -> str:
    """Hex BLAKE3 of the file's content; `advance(n)` is told about every n bytes done."""
    with open(path, "rb", buffering=0) as handle:
        size = os.fstat(handle.fileno()).st_size
        if size < BIG_FILE_BYTES:
            data = handle.read()
            if advance is not None:
                advance(len(data))
            return blake3(data).hexdigest()
        hasher = blake3(max_threads=blake3.AUTO)
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            view = memoryview(mapped)
            try:
                for start in range(0, len(view), CHUNK_BYTES):
                    chunk = view[start : start + CHUNK_BYTES]
                    hasher.update(chunk)
                    if advance is not None:
                        advance(len(chunk))
                    chunk.release()
            finally:
                view.release()
        return hasher.hexdigest()
