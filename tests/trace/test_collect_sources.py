"""Collecting source inputs at run time: real runs through the CLI, a real object store,
and a reproduction that works after the original source changed."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import blake3
import pytest

from roar.errors import ContentChanged
from roar.hashing.digest import BIG_FILE_BYTES
from roar.models import Artifact, FileRef
from roar.objects import ObjectStore
from roar.run.collect import collect_sources, size_text
from tests.helpers import run_roar
from tests.trace.conftest import Workspace

PREP = "import sys\nopen(sys.argv[2], 'w').write(''.join(sorted(open(sys.argv[1]))))\n"


def _b3(data: bytes) -> str:
    return blake3.blake3(data).hexdigest()


def _objects(ws: Workspace) -> ObjectStore:
    return ObjectStore(ws.project.objects_dir)


def _stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _roar(ws: Workspace, *args: str) -> str:
    result = run_roar(*args, cwd=ws.root)
    assert result.code == 0, result.stderr
    return result.stderr


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


@pytest.fixture
def two_steps(ws: Workspace) -> Workspace:
    """raw.txt, a source, and clean.txt, which the first step writes."""
    ws.write("raw.txt", "3\n1\n2\n")
    return ws


def _run_two_steps(ws: Workspace, *flags: str) -> None:
    _roar(ws, "run", "-q", *flags, "sh", "-c", "sort raw.txt > clean.txt")
    _roar(ws, "run", "-q", *flags, "sh", "-c", "cat clean.txt > copy.txt")


def test_collect_sources_flag_copies_the_source_and_not_an_intermediate(
    two_steps: Workspace,
) -> None:
    _run_two_steps(two_steps, "--collect-sources")
    raw = (two_steps.root / "raw.txt").read_bytes()
    clean = (two_steps.root / "clean.txt").read_bytes()
    objects = _objects(two_steps)
    stored = objects.path_for(_b3(raw))
    assert stored.read_bytes() == raw
    assert stat.S_IMODE(stored.stat().st_mode) == 0o444
    assert not objects.has(_b3(clean))  # the first step made it: reproducible, not a source
    assert _stored_files(two_steps.project.objects_dir) == [stored]


def test_nothing_is_collected_by_default(two_steps: Workspace) -> None:
    _run_two_steps(two_steps)
    assert _stored_files(two_steps.project.objects_dir) == []


def test_build_takes_the_flag_too(two_steps: Workspace) -> None:
    _roar(two_steps, "build", "-q", "--collect-sources", "cat", "raw.txt")
    assert _objects(two_steps).has(_b3(b"3\n1\n2\n"))


def test_the_config_switch_collects_and_the_flag_can_turn_it_off(two_steps: Workspace) -> None:
    _roar(two_steps, "config", "set", "reproduce.collect_sources", "true")
    two_steps.write("other.txt", "not this one\n")
    _roar(two_steps, "run", "-q", "--no-collect-sources", "cat", "other.txt")
    assert _stored_files(two_steps.project.objects_dir) == []

    _run_two_steps(two_steps)
    objects = _objects(two_steps)
    assert objects.has(_b3(b"3\n1\n2\n"))
    assert not objects.has(_b3((two_steps.root / "clean.txt").read_bytes()))


def test_a_source_over_the_size_limit_is_skipped_with_a_note(ws: Workspace) -> None:
    ws.write("big.bin", os.urandom((2 << 20) + 5))
    ws.write("small.txt", "small\n")
    _roar(ws, "config", "set", "reproduce.collect_max_mb", "1")
    result = run_roar(
        "run", "--collect-sources", "sh", "-c", "cat big.bin small.txt > both.bin", cwd=ws.root
    )
    assert result.code == 0, result.stderr
    assert "big.bin (2.0 MiB)" in result.stderr
    assert "reproduce.collect_max_mb=1" in result.stderr
    assert "recorded run @1" in result.stderr
    objects = _objects(ws)
    assert objects.has(_b3(b"small\n"))
    assert not objects.has(_b3((ws.root / "big.bin").read_bytes()))


def test_put_file_with_a_wrong_digest_stores_nothing(tmp_path: Path) -> None:
    source = tmp_path / "data.bin"
    source.write_bytes(b"the real content")
    objects = ObjectStore(tmp_path / "objects")
    wrong = _b3(b"what was hashed earlier")
    with pytest.raises(ContentChanged, match=r"data\.bin changed after roar hashed it") as info:
        objects.put_file(source, wrong)
    assert wrong[:12] in str(info.value)
    assert _b3(b"the real content")[:12] in str(info.value)
    assert _stored_files(tmp_path / "objects") == []  # no object, no temp file


def test_put_file_streams_a_big_file_once(tmp_path: Path) -> None:
    data = os.urandom(BIG_FILE_BYTES) * 2 + b"tail"
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    objects = ObjectStore(tmp_path / "objects")
    assert objects.put_file(source, _b3(data)) is True
    assert objects.get_bytes(_b3(data)) == data
    assert objects.put_file(source, _b3(data)) is False  # already there
    assert _stored_files(tmp_path / "objects") == [objects.path_for(_b3(data))]


def test_a_source_that_changed_since_hashing_becomes_a_note(ws: Workspace) -> None:
    path = ws.write("raw.txt", "changed since\n")
    recorded = FileRef("raw.txt", Artifact(_b3(b"as hashed\n"), 10))
    with ws.project.open_store() as store:
        report = collect_sources(
            store, _objects(ws), ws.root, [recorded], job_id=1, budget_bytes=1 << 20
        )
    assert report.collected == []
    assert len(report.failed) == 1
    assert f"{path} changed after roar hashed it" in report.failed[0]
    assert _stored_files(ws.project.objects_dir) == []


@pytest.mark.parametrize(
    ("size", "text"), [(0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (3 << 30, "3.0 GiB")]
)
def test_size_text(size: int, text: str) -> None:
    assert size_text(size) == text


def test_reproduce_uses_collected_sources_after_the_original_changed(ws: Workspace) -> None:
    """raw.txt (data) -> prep.py -> clean.txt -> model.txt -> metrics.txt, then raw.txt
    is edited: the collected copy still reproduces metrics.txt."""
    ws.write("prep.py", PREP)
    _git(ws.root, "add", "prep.py")
    _git(ws.root, "commit", "-qm", "prep")
    ws.write("raw.txt", "3\n1\n2\n")
    _roar(ws, "config", "set", "reproduce.collect_sources", "true")
    for argv in (
        ["python3", "prep.py", "raw.txt", "clean.txt"],
        ["sh", "-c", "head -n 2 clean.txt > model.txt"],
        ["sh", "-c", "wc -l model.txt > metrics.txt"],
    ):
        _roar(ws, "run", "-q", *argv)
    metrics = (ws.root / "metrics.txt").read_bytes()
    (ws.root / "raw.txt").write_text("9\n8\n")
    (ws.root / "metrics.txt").unlink()

    plan = run_roar("reproduce", "metrics.txt", cwd=ws.root)
    assert plan.code == 0, plan.stderr
    assert "collected" in plan.stdout
    result = run_roar("reproduce", "metrics.txt", "--run", "-y", cwd=ws.root)
    assert result.code == 0, result.stderr
    assert (ws.root / "metrics.txt").read_bytes() == metrics
    assert (ws.root / "raw.txt").read_text() == "9\n8\n"  # the user's edit is left alone
