"""fsutil's stand-ins for shutil and tempfile (which `roar run` does not import):
`find_program` answers as `shutil.which` does on POSIX, and `create_temp_file` makes a new
private file as `tempfile.mkstemp` does."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from roar.fsutil import create_temp_file, find_program


@pytest.fixture
def bins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    first, second = tmp_path / "first", tmp_path / "second"
    for directory in (first, second):
        directory.mkdir()
    for path, mode in [
        (first / "tool", 0o644),  # not executable: skipped
        (second / "tool", 0o755),
        (first / "both", 0o755),  # found first in `first`
        (second / "both", 0o755),
        (second / "plain.txt", 0o644),
    ]:
        path.write_text("#!/bin/sh\n")
        path.chmod(mode)
    (first / "adir").mkdir()  # a directory is never a program
    (first / "adir").chmod(0o755)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    "name",
    ["tool", "both", "adir", "plain.txt", "missing", "first/both", "second/plain.txt", "sh"],
)
@pytest.mark.parametrize(
    "path",
    ["first:second", "second:first", "first::second", "", "first:first:second", None],
)
def test_it_finds_what_shutil_finds(bins: Path, name: str, path: str | None) -> None:
    assert find_program(name, path) == shutil.which(name, path=path)


def test_the_default_is_the_environment_path(bins: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", f"{bins / 'second'}")
    assert find_program("tool") == str(bins / "second" / "tool")
    monkeypatch.delenv("PATH")
    assert find_program("sh") == shutil.which("sh")


def test_a_temp_file_is_new_private_and_writable(tmp_path: Path) -> None:
    made = [create_temp_file(tmp_path, prefix=".x.", suffix=".tmp") for _ in range(50)]
    names = {name for _fd, name in made}
    assert len(names) == 50
    for fd, name in made:
        os.write(fd, b"data")
        os.close(fd)
        assert os.path.basename(name).startswith(".x.")
        assert name.endswith(".tmp")
        assert os.path.dirname(name) == str(tmp_path)
        assert stat.S_IMODE(os.stat(name).st_mode) == 0o600
        assert Path(name).read_bytes() == b"data"


def test_a_temp_file_never_reuses_a_taken_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every name taken: an error, and the file that was there is untouched."""
    monkeypatch.setattr(os, "urandom", lambda n: b"\0" * n)
    taken = tmp_path / ("p" + "00" * 6)
    taken.write_text("mine")
    with pytest.raises(FileExistsError, match="no free temporary name"):
        create_temp_file(tmp_path, prefix="p")
    assert taken.read_text() == "mine"
