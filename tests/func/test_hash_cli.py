"""`roar hash`: b3sum-compatible output, a cache that is never fooled by restored mtimes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import blake3

from tests.helpers import ROAR, run_roar


def _hash_json(cwd: Path, *paths: str) -> list[dict[str, object]]:
    result = run_roar("hash", "--json", *paths, cwd=cwd)
    assert result.code == 0, result.stderr
    return list(json.loads(result.stdout))


def test_prints_b3sum_style_lines(project: Path) -> None:
    (project / "data.bin").write_bytes(b"abc")
    (project / "dir").mkdir()
    (project / "dir" / "x").write_bytes(b"x")
    result = run_roar("hash", "data.bin", "dir", cwd=project)
    assert result.code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == f"{blake3.blake3(b'abc').hexdigest()}  data.bin"
    assert lines[1].endswith("  dir/")


def test_works_outside_a_project_without_cache(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"abc")
    rows = _hash_json(tmp_path, "f")
    assert rows[0]["hash"] == blake3.blake3(b"abc").hexdigest()
    assert not (tmp_path / ".roar").exists()


def _wait_out_racy_window() -> None:
    time.sleep(2.1)  # the cache ignores files changed in the last 2 s (racily clean)


def test_second_hash_comes_from_the_cache(project: Path) -> None:
    (project / "f").write_bytes(b"content")
    _wait_out_racy_window()
    assert _hash_json(project, "f")[0]["cached"] is False
    assert _hash_json(project, "f")[0]["cached"] is True
    assert _hash_json(project, "f")[0]["hash"] == blake3.blake3(b"content").hexdigest()


def test_touch_r_and_cp_p_get_new_hashes(project: Path) -> None:
    """Acceptance: same size, mtime restored -> the new content's hash, not the cached one."""
    original, reference = project / "model.bin", project / "reference"
    original.write_bytes(b"weights-v1")
    reference.write_bytes(b"unrelated")
    other = project / "other.bin"
    other.write_bytes(b"weights-v3")
    _wait_out_racy_window()
    _hash_json(project, "model.bin")  # fills the cache
    assert _hash_json(project, "model.bin")[0]["cached"] is True

    before = original.stat()
    original.write_bytes(b"weights-v2")  # same size
    subprocess.run(["touch", "-r", str(reference), str(original)], check=True)
    subprocess.run(["touch", "-m", "-d", f"@{before.st_mtime}", str(original)], check=True)
    assert original.stat().st_size == before.st_size
    row = _hash_json(project, "model.bin")[0]
    assert row["hash"] == blake3.blake3(b"weights-v2").hexdigest()
    assert row["cached"] is False

    _wait_out_racy_window()
    _hash_json(project, "model.bin")
    assert _hash_json(project, "model.bin")[0]["cached"] is True
    shutil.copy2(other, original)  # cp -p: content, size and mtime of other.bin
    subprocess.run(["cp", "-p", str(other), str(original)], check=True)
    row = _hash_json(project, "model.bin")[0]
    assert row["hash"] == blake3.blake3(b"weights-v3").hexdigest()


def test_missing_file_is_one_line_and_exit_6(project: Path) -> None:
    result = run_roar("hash", "nope.bin", cwd=project)
    assert result.code == 6
    assert result.stderr.strip().count("\n") == 0
    assert "cannot hash" in result.stderr
    assert "no such file" in result.stderr


def test_no_cache_flag_reads_everything(project: Path) -> None:
    (project / "f").write_bytes(b"content")
    _wait_out_racy_window()
    _hash_json(project, "f")
    result = run_roar("hash", "--json", "--no-cache", "f", cwd=project)
    assert json.loads(result.stdout)[0]["cached"] is False


def test_non_utf8_names_in_a_project(project: Path) -> None:
    name = b"caf\xe9.bin"
    (project / os.fsdecode(name)).write_bytes(b"odd")
    proc = subprocess.run(
        [ROAR, "hash", os.fsdecode(name)], cwd=project, capture_output=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == blake3.blake3(b"odd").hexdigest().encode() + b"  caf\\xe9.bin\n"
