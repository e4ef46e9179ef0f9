"""BLAKE3 of one file: small files in one read, big ones mapped (mapped.feed) and hashed on
all cores; and a streaming copy that hashes the bytes it copies."""

from __future__ import annotations

import os
from collections.abc import Callable

from blake3 import blake3

from roar.hashing.mapped import feed

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from typing import BinaryIO

__all__ = ["BIG_FILE_BYTES", "COPY_BYTES", "copy_hashing", "hash_bytes", "hash_file"]

#: Files at least this big are mapped and hashed with blake3's thread pool.
BIG_FILE_BYTES = 4 << 20
#: Bytes per read and write when copying a big file: memory stays bounded whatever its size.
COPY_BYTES = 8 << 20


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
        feed(hasher, handle.fileno(), 0, size, advance)
        return hasher.hexdigest()


def copy_hashing(source: str | os.PathLike[str], target: BinaryIO) -> str:
    """Copy the file at `source` into `target` in bounded chunks; the hex BLAKE3 of the
    bytes copied (which differ from an earlier hash of `source` if it changed since)."""
    with open(source, "rb", buffering=0) as handle:
        big = os.fstat(handle.fileno()).st_size >= BIG_FILE_BYTES
        hasher = blake3(max_threads=blake3.AUTO) if big else blake3()
        buffer = bytearray(COPY_BYTES if big else 1 << 16)
        view = memoryview(buffer)
        try:
            while count := handle.readinto(buffer):
                chunk = view[:count]
                hasher.update(chunk)
                target.write(chunk)
                chunk.release()
        finally:
            view.release()
    return hasher.hexdigest()
