"""Mapped hashing (roar.hashing.mapped): the same digests as reading, and a file that
shrinks under the mapping is an error, not a SIGBUS that kills roar."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import blake3
import pytest

from roar.hashing import mapped
from roar.hashing.digest import hash_file
from roar.hashing.hasher import Hasher

PAGE = os.sysconf("SC_PAGE_SIZE")


def test_the_c_part_was_built() -> None:
    # Every install path (make, pip install -e .) builds it; a missing compiler would
    # silently cost a third more hashing time, so the suite says so.
    assert mapped.ZERO_COPY


@pytest.fixture(params=["mapped", "read"])
def way(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "read":
        monkeypatch.setattr(mapped, "_native", None)
    return str(request.param)


@pytest.mark.parametrize(
    ("offset", "length"),
    [(0, 1), (0, PAGE), (PAGE, 3 * PAGE + 17), (0, (5 << 20) + 3), (2 * PAGE, 70 << 20)],
)
def test_feed_gives_the_bytes_of_the_range(
    tmp_path: Path, way: str, offset: int, length: int
) -> None:
    data = os.urandom(offset + length + 5)
    path = tmp_path / "f"
    path.write_bytes(data)
    hasher, told = blake3.blake3(), []
    with open(path, "rb") as handle:
        mapped.feed(hasher, handle.fileno(), offset, length, told.append)
    assert hasher.hexdigest() == blake3.blake3(data[offset : offset + length]).hexdigest()
    assert sum(told) == length


class TruncatingHasher:
    """Truncates the file before it hashes the first slice it is given: a writer outside
    the job shortening the file while roar reads it."""

    def __init__(self, fd: int, keep: int) -> None:
        self.fd, self.keep, self.inner = fd, keep, blake3.blake3()

    def update(self, data: Any, /) -> None:
        if self.keep >= 0:
            os.ftruncate(self.fd, self.keep)
            self.keep = -1
        self.inner.update(data)  # touches the pages past the new end


@pytest.mark.parametrize("keep", [0, PAGE, (1 << 20) + 1])
def test_a_file_that_shrinks_while_mapped_raises_file_shrank(
    tmp_path: Path, way: str, keep: int
) -> None:
    path = tmp_path / "f"
    path.write_bytes(os.urandom(8 << 20))
    fd = os.open(path, os.O_RDWR)
    try:
        with pytest.raises(mapped.FileShrank, match="shrank while roar read it"):
            mapped.feed(TruncatingHasher(fd, keep), fd, 0, 8 << 20)
        # and the process goes on: a second, intact file hashes as before
        path.write_bytes(b"x" * (5 << 20))
        hasher = blake3.blake3()
        mapped.feed(hasher, fd, 0, 5 << 20)
        assert hasher.hexdigest() == blake3.blake3(b"x" * (5 << 20)).hexdigest()
    finally:
        os.close(fd)


def test_the_guard_survives_faulthandler_being_enabled_after_it(tmp_path: Path) -> None:
    # faulthandler.enable() (PYTHONFAULTHANDLER, pytest) replaces the SIGBUS handler; the
    # next mapping puts the guard back in front of it.
    script = textwrap.dedent(
        """
        import faulthandler, os, sys
        import blake3
        from roar.hashing import mapped
        fd = os.open(sys.argv[1], os.O_RDWR)
        mapped.feed(blake3.blake3(), fd, 0, 4 << 20)
        faulthandler.enable()

        class Truncating:
            def update(self, data):
                os.ftruncate(fd, 0)
                blake3.blake3(data)

        try:
            mapped.feed(Truncating(), fd, 0, 4 << 20)
        except mapped.FileShrank:
            print("shrank")
        """
    )
    path = tmp_path / "f"
    path.write_bytes(os.urandom(4 << 20))
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout) == (0, "shrank\n"), done


def test_a_sigbus_elsewhere_still_ends_the_process(tmp_path: Path) -> None:
    # The guard answers only for its own mappings: a fault anywhere else is not hidden.
    script = textwrap.dedent(
        """
        import mmap, os, sys
        from roar.hashing import mapped
        import blake3
        fd = os.open(sys.argv[1], os.O_RDWR)
        mapped.feed(blake3.blake3(), fd, 0, 1 << 20)
        plain = mmap.mmap(fd, 1 << 20, access=mmap.ACCESS_READ)
        os.ftruncate(fd, 0)
        print(plain[4096])
        """
    )
    path = tmp_path / "f"
    path.write_bytes(os.urandom(1 << 20))
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == -7, done  # SIGBUS


def test_a_sigbus_sent_by_kill_is_not_swallowed(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import os, signal, sys, time
        import blake3
        from roar.hashing import mapped
        fd = os.open(sys.argv[1], os.O_RDONLY)
        mapped.feed(blake3.blake3(), fd, 0, 1 << 20)
        os.kill(os.getpid(), signal.SIGBUS)
        time.sleep(5)
        print("survived")
        """
    )
    path = tmp_path / "f"
    path.write_bytes(os.urandom(1 << 20))
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == -7, done


def test_the_mapping_refuses_to_close_while_a_view_is_held(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"abc" * PAGE)
    native = mapped._native
    with open(path, "rb") as handle:
        fd = handle.fileno()
        mapping = native.Mapping(fd, PAGE, PAGE)
        view = memoryview(mapping)
        with pytest.raises(BufferError):
            mapping.close()
        assert bytes(view[:3]) == (b"abc" * PAGE)[PAGE : PAGE + 3]
        view.release()
        mapping.close()
        mapping.close()  # twice is harmless
        with pytest.raises(ValueError, match="closed"):
            memoryview(mapping)
        with pytest.raises(ValueError, match="page size"):
            native.Mapping(handle.fileno(), 1, PAGE)
    with pytest.raises(OSError, match="Bad file descriptor"):
        native.Mapping(fd, 0, PAGE)  # closed descriptor


def test_hashing_a_file_that_shrinks_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from roar.errors import HashError

    path = tmp_path / "big.bin"
    real_feed = mapped.feed

    def shrinking_feed(hasher: Any, fd: int, offset: int, length: int, advance: Any) -> None:
        os.truncate(path, 4096)
        real_feed(hasher, fd, offset, length, advance)

    monkeypatch.setattr("roar.hashing.digest.feed", shrinking_feed)
    path.write_bytes(os.urandom(8 << 20))
    with pytest.raises(mapped.FileShrank):
        hash_file(path)
    path.write_bytes(os.urandom(8 << 20))
    with pytest.raises(HashError, match="big.bin.*shrank while roar read it"):
        Hasher().hash_paths([path])
