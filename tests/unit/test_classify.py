"""Classification rules and filters, with stat results made up for each case."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from roar.trace.classify import CTIME_TOLERANCE_NS, Filters, classify
from roar.trace.model import AccessLog

START = 1_000_000_000_000


def fake_stat(ctimes: dict[str, int]):  # type: ignore[no-untyped-def]
    def stat_path(path: str) -> os.stat_result:
        if path not in ctimes:
            raise FileNotFoundError(path)
        return os.stat_result((stat.S_IFREG | 0o644, 1, 1, 1, 0, 0, 10, 0, 0, 0), {
            "st_ctime_ns": ctimes[path],
        })  # fmt: skip

    return stat_path


def run(log: AccessLog, filters: Filters, ctimes: dict[str, int]):  # type: ignore[no-untyped-def]
    fake = fake_stat(ctimes)
    return classify(log, filters, START, lstat=fake, stat_path=fake)


@pytest.fixture(autouse=True)
def _no_moved_caches(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rules below name caches at their default places, under /home/u."""
    for var in ("XDG_CACHE_HOME", "TORCH_HOME", "TORCH_EXTENSIONS_DIR"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def filters() -> Filters:
    return Filters(
        project_root="/tmp/proj",
        home="/home/u",
        tmp_dirs=("/tmp", "/dev/shm"),
        python_prefixes=("/opt/py",),
        tracked_files=frozenset({"/tmp/proj/train.py"}),
    )


def test_outputs_need_write_intent_and_a_ctime_change(filters: Filters) -> None:
    log = AccessLog()
    for name in ("new", "rw_unchanged", "read_only"):
        log.read(f"/tmp/proj/{name}")
    log.write("/tmp/proj/new")
    log.write("/tmp/proj/rw_unchanged")
    ctimes = {
        "/tmp/proj/new": START + 5,
        "/tmp/proj/rw_unchanged": START - CTIME_TOLERANCE_NS - 1,
        "/tmp/proj/read_only": START + 5,
    }
    result = run(log, filters, ctimes)
    assert result.outputs == ["/tmp/proj/new"]
    assert result.inputs == ["/tmp/proj/read_only", "/tmp/proj/rw_unchanged"]


def test_deleted_and_vanished_files_are_dropped(filters: Filters) -> None:
    log = AccessLog()
    log.write("/tmp/proj/tmpfile")
    log.remove("/tmp/proj/tmpfile")
    log.read("/tmp/proj/vanished")
    assert run(log, filters, {"/tmp/proj/tmpfile": START}).outputs == []


def test_read_only_paths_dropped_by_their_place_are_never_stated(filters: Filters) -> None:
    """An import of numpy reads a thousand package files: no stat for what only an input
    could become and where it lies already drops. A file written, or a tracked source (it is
    listed only when it is a regular file), is still looked at."""
    log = AccessLog()
    dropped_reads = [
        "/opt/py/lib/python3.11/site-packages/numpy/core.py",
        "/opt/py/lib/python3.11/os.py",
        "/usr/lib/x86_64-linux-gnu/libc.so.6",
        "/proc/self/status",
    ]
    for path in [*dropped_reads, "/tmp/proj/train.py", "/tmp/proj/data.csv"]:
        log.read(path)
    log.write("/opt/py/lib/python3.11/site-packages/numpy/written.py")
    ctimes = {path: START - 1 for path in log.paths}
    ctimes["/opt/py/lib/python3.11/site-packages/numpy/written.py"] = START + 5
    looked_at: list[str] = []
    fake = fake_stat(ctimes)

    def counting(path: str) -> os.stat_result:
        looked_at.append(path)
        return fake(path)

    result = classify(log, filters, START, lstat=counting, stat_path=counting)
    assert result.inputs == ["/tmp/proj/data.csv"]
    assert result.source_reads == ["/tmp/proj/train.py"]
    assert result.outputs == []  # a write into site-packages is a package's, not the job's
    assert sorted(looked_at) == [
        "/opt/py/lib/python3.11/site-packages/numpy/written.py",
        "/tmp/proj/data.csv",
        "/tmp/proj/train.py",
    ]
    assert result.dropped == {
        "package": 2, "system": 2, "virtual or roar's own": 1, "tracked by git": 1
    }  # fmt: skip


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/proc/self/status", "virtual or roar's own"),
        ("/tmp/proj/.roar/roar.db", "virtual or roar's own"),
        ("/opt/py/lib/python3.11/site-packages/numpy/core.py", "package"),
        ("/tmp/proj/.venv/lib/python3.11/site-packages/x.py", "package"),
        ("/usr/share/zoneinfo/UTC", "system"),
        ("/opt/py/lib/python3.11/os.py", "system"),
        ("/home/u/.pyenv/libexec/pyenv", "system"),
        ("/data/lib/libfoo.so.1", "system"),
        ("/home/u/.cache/torch/kernels/k.bin", "torch cache"),
        ("/home/u/.cache/torch_extensions/py311_cpu/op/op.so", "torch cache"),
        ("/tmp/torchinductor_u/x.py", "torch cache"),
        ("/tmp/scratch.txt", "tmp"),
        ("/dev/urandom", "virtual or roar's own"),
        ("/tmp/proj/.git/HEAD", "git's own files"),
        ("/tmp/proj/.git/objects/ab/cdef", "git's own files"),
        ("/tmp/proj/vendor/lib/.git", "git's own files"),  # a work tree's gitfile
        ("/home/u/.gitconfig", "system"),
        ("/tmp/proj/__pycache__/util.cpython-311.pyc", "Python's bytecode cache"),
        ("/home/u/.cache/matplotlib/fontlist-v390.json", "a tool's cache or settings"),
        ("/home/u/.nv/ComputeCache/4/1/abc", "a tool's cache or settings"),
        ("/tmp/proj/pkg/__pycache__/mod.cpython-311.opt-1.pyc", "Python's bytecode cache"),
        ("/home/u/.config/git/ignore", "system"),
        ("/dev/shm/torch_12_345", "tmp"),
        ("/tmp/proj/train.py", "tracked by git"),
    ],
)
def test_filters_drop_with_a_reason(filters: Filters, path: str, reason: str) -> None:
    assert filters.drop_reason(path, is_output=False) == reason


@pytest.mark.parametrize(
    "path", ["/tmp/proj/data/raw.csv", "/tmp/proj/tool.so.txt", "/data/shared/train.csv"]
)
def test_data_files_are_kept(filters: Filters, path: str) -> None:
    assert filters.drop_reason(path, is_output=False) is None


def test_project_files_are_never_tmp_even_under_tmp(filters: Filters) -> None:
    assert filters.drop_reason("/tmp/proj/out/model.pt", is_output=True) is None
    assert filters.drop_reason("/tmp/other/model.pt", is_output=True) == "tmp"


def test_a_project_in_shared_memory_is_not_a_device() -> None:
    filters = Filters(project_root="/dev/shm/proj", home="/home/u")
    assert filters.drop_reason("/dev/shm/proj/out/model.pt", is_output=True) is None
    assert filters.drop_reason("/dev/shm/proj/data.csv", is_output=False) is None
    assert filters.drop_reason("/dev/shm/other/x.bin", is_output=True) == "tmp"
    assert filters.drop_reason("/dev/null", is_output=True) == "virtual or roar's own"


def test_roars_own_code_is_dropped_unless_it_is_the_project() -> None:
    """An editable roar (a source checkout) is not in site-packages; its modules, read by
    a job that imports roar, are still roar's own. In roar's own repository they are kept."""
    from roar.trace.classify import ROAR_CODE

    module = os.path.join(ROAR_CODE, "tasks", "runner.py")
    elsewhere = Filters(project_root="/data/proj", home="/home/u", python_prefixes=())
    assert elsewhere.drop_reason(module, is_output=False) == "virtual or roar's own"
    repository = os.path.dirname(os.path.dirname(ROAR_CODE))
    mine = Filters(project_root=repository, home="/home/u", python_prefixes=())
    assert mine.drop_reason(module, is_output=False) is None


def test_a_pycache_prefix_is_bytecode_too() -> None:
    filters = Filters(project_root="/data/proj", home="/home/u", pycache_prefix="/data/pyc")
    assert filters.drop_reason("/data/pyc/data/proj/util.cpython-311.pyc", is_output=True) == (
        "Python's bytecode cache"
    )
    assert filters.drop_reason("/data/pycache.csv", is_output=False) is None


def test_switching_filters_off(filters: Filters) -> None:
    loose = Filters(
        project_root="/tmp/proj",
        home="/home/u",
        ignore_system_reads=False,
        ignore_package_reads=False,
        ignore_tmp_files=False,
        ignore_torch_cache=False,
        track_repo_files=True,
        tracked_files=frozenset({"/tmp/proj/train.py"}),
    )
    for path in ("/usr/share/x", "/a/site-packages/b.py", "/tmp/s", "/tmp/proj/train.py"):
        assert loose.drop_reason(path, is_output=False) is None


def test_directory_verdicts_match_asking_each_path_afresh() -> None:
    """drop_reason remembers a verdict per directory; every path must still get the answer
    its own place, name and git status give, in whatever order the paths come."""
    import itertools
    import random

    def new_filters() -> Filters:  # nothing memoized yet
        return Filters(
            project_root="/tmp/proj",
            home="/home/u",
            tmp_dirs=("/tmp", "/var/tmp"),
            python_prefixes=("/opt/py",),
            tracked_files=frozenset({"/tmp/proj/train.py", "/tmp/proj/data/a.txt"}),
            internal_dirs=("/tmp/proj/store/staging", "/tmp/proj/store/refs/latest"),
        )

    directories = [
        "", "/tmp/proj", "/tmp/proj/data", "/tmp/proj/.roar", "/tmp/proj/store/staging",
        "/tmp/proj/store/refs", "/tmp/proj/lib/python3.11", "/tmp", "/tmp/other", "/var/tmp",
        "/var/tmp/torchinductor_u", "/usr/lib/python3.11", "/usr/lib/python3.11/site-packages/x",
        "/usr/lib/x86_64-linux-gnu", "/opt/py/lib", "/home/u/.cache/torch/hub", "/home/u/.pyenv",
        "/home/u/work", "/etc", "/proc/self", "/srv/data", "/tmp/proj/.git",
        "/tmp/proj/.git/refs/heads", "/home/u/.config/git", "/home/u",
    ]  # fmt: skip
    names = ["a.txt", "train.py", "python3.11", "pypy", "pyvenv.cfg", "libz.so.1", "m.so",
             "torchinductor_q", "latest", "proj", "torch", ".roar", "tmp", ".git",
             ".gitconfig", ".gitignore"]  # fmt: skip
    paths = [f"{d}/{n}" for d, n in itertools.product(directories, names)]
    paths += ["/tmp/proj", "/home/u/.cache/torch", "/opt/py", "/tmp/proj/.roar"]
    for seed in range(3):
        random.Random(seed).shuffle(paths)
        filters = new_filters()
        for path, is_output in itertools.product(paths, (False, True)):
            fresh = new_filters()
            expected = fresh._reason_by_place(path, is_output)
            if expected is None and not is_output and path in fresh.tracked_files:
                expected = "tracked by git"
            assert filters.drop_reason(path, is_output=is_output) == expected, (path, is_output)


@pytest.mark.parametrize(
    "path",
    [
        "/home/u/.cache/torch/hub/checkpoints/resnet18-f37072fd.pth",
        "/home/u/.cache/torch/hub/pytorch_vision_v0.10.0/hubconf.py",
        "/home/u/.cache/torch/hub",
    ],
)
def test_what_torch_hub_downloaded_is_an_input_though_it_lies_in_the_torch_cache(
    filters: Filters, path: str
) -> None:
    assert filters.drop_reason("/home/u/.cache/torch/kernels/k.bin", is_output=False)
    assert filters.drop_reason(path, is_output=False) is None


def test_torch_s_cache_moves_with_torch_home_and_xdg_cache_home(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def reasons(*paths: str) -> list[str | None]:
        filters = Filters(project_root="/tmp/proj", home="/home/u", python_prefixes=())
        return [filters.drop_reason(path, is_output=False) for path in paths]

    monkeypatch.setenv("XDG_CACHE_HOME", "/scratch/cache")
    assert reasons(
        "/scratch/cache/torch/kernels/k.bin",
        "/scratch/cache/torch_extensions/op/op.so",
        "/scratch/cache/torch/hub/checkpoints/w.pth",
    ) == ["torch cache", "torch cache", None]
    monkeypatch.setenv("TORCH_HOME", "/data/torch")
    assert reasons("/data/torch/kernels/k.bin", "/data/torch/hub/checkpoints/w.pth") == [
        "torch cache",
        None,
    ]


@pytest.mark.parametrize(
    "environment",
    [{}, {"XDG_CACHE_HOME": "/scratch/cache"}, {"TORCH_HOME": "/data/torch"}],
    ids=["default", "XDG_CACHE_HOME", "TORCH_HOME"],
)
def test_the_hub_folder_is_the_one_torch_uses(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str]
) -> None:
    hub = pytest.importorskip("torch.hub", reason="torch is an optional extra")
    monkeypatch.setenv("HOME", "/home/u")
    for var, value in environment.items():
        monkeypatch.setenv(var, value)
    filters = Filters(project_root="/tmp/proj", home="/home/u", python_prefixes=())
    assert filters.torch_hub_dirs() == (hub.get_dir(),)


def _moved_stat(mtimes: dict[str, int]):  # type: ignore[no-untyped-def]
    """Files renamed during the job: ctime in it, mtime as given."""

    def stat_path(path: str) -> os.stat_result:
        if path not in mtimes:
            raise FileNotFoundError(path)
        return os.stat_result((stat.S_IFREG | 0o644, 1, 1, 1, 0, 0, 10, 0, 0, 0), {
            "st_mtime_ns": mtimes[path], "st_ctime_ns": START + 5,
        })  # fmt: skip

    return stat_path


def _classify_moves(log: AccessLog, filters: Filters, mtimes: dict[str, int]):  # type: ignore[no-untyped-def]
    fake = _moved_stat(mtimes)
    return classify(log, filters, START, lstat=fake, stat_path=fake)


def test_a_renamed_file_is_an_input_under_its_old_name_while_its_content_is_old(
    filters: Filters,
) -> None:
    log = AccessLog()
    log.rename("/tmp/proj/in/a.csv", "/tmp/proj/done/a.csv")
    log.rename("/tmp/proj/in/b.csv", "/tmp/proj/done/b.csv")
    old, during = START - CTIME_TOLERANCE_NS - 1, START - CTIME_TOLERANCE_NS + 1
    result = _classify_moves(
        log, filters, {"/tmp/proj/done/a.csv": old, "/tmp/proj/done/b.csv": during}
    )
    assert result.outputs == ["/tmp/proj/done/a.csv", "/tmp/proj/done/b.csv"]
    # b's mtime is not clearly older than the job: something may have written it since
    assert result.inputs == ["/tmp/proj/in/a.csv"]
    assert result.moved == {"/tmp/proj/in/a.csv": "/tmp/proj/done/a.csv"}


def test_a_renamed_input_follows_the_input_filters(filters: Filters) -> None:
    log = AccessLog()
    log.rename("/tmp/proj/train.py", "/tmp/proj/old_train.py")  # tracked by git
    log.rename("/opt/py/lib/python3.11/os.py", "/tmp/proj/os.py")  # the interpreter's own
    old = START - CTIME_TOLERANCE_NS - 1
    result = _classify_moves(log, filters, {"/tmp/proj/old_train.py": old, "/tmp/proj/os.py": old})
    assert result.inputs == []
    assert result.source_reads == ["/tmp/proj/train.py"]
    assert result.dropped["system"] == 1
    assert result.outputs == ["/tmp/proj/old_train.py", "/tmp/proj/os.py"]


def test_a_moved_input_held_by_a_path_the_filters_drop_is_still_hashed(filters: Filters) -> None:
    log = AccessLog()
    log.rename("/tmp/proj/raw.bin", "/tmp/scratch/raw.bin")
    old = START - CTIME_TOLERANCE_NS - 1
    result = _classify_moves(log, filters, {"/tmp/scratch/raw.bin": old})
    assert result.outputs == []
    assert result.inputs == ["/tmp/proj/raw.bin"]
    assert set(result.stats) == {"/tmp/scratch/raw.bin"}  # what the hasher reads for it


def test_the_access_log_follows_content_through_renames() -> None:
    log = AccessLog()
    log.rename("/p/a", "/p/b")
    log.rename("/p/b", "/p/c")
    assert log.paths["/p/c"].origin == "/p/a"  # first name, through the chain
    log.write("/p/made")
    log.rename("/p/made", "/p/final")
    assert log.paths["/p/final"].origin is None  # the job's own content
    log.rename("/p/x", "/p/y")
    log.write("/p/y")
    assert log.paths["/p/y"].origin is None  # written after the move
    log.exchange("/p/c", "/p/z")
    assert (log.paths["/p/c"].origin, log.paths["/p/z"].origin) == ("/p/z", "/p/a")


def test_the_access_log_stamps_each_call_in_order_and_a_merge_stamps_none() -> None:
    log = AccessLog()
    log.read("/p/a")
    log.write("/p/b")
    log.read("/p/a")
    log.remove("/p/never")  # not heard of before: nothing to stamp
    assert (log.paths["/p/a"].last, log.paths["/p/b"].last, log.events) == (3, 2, 3)
    log.merge("/p/b", log.paths["/p/a"])
    assert (log.paths["/p/b"].last, log.events) == (3, 3)


def test_thousands_of_directories_renamed_into_place(tmp_path: Path) -> None:
    """A job that writes each shard as `shard_N.tmp/` and renames it: every file is an
    output at its final path (and classify looks each one's directory up, not every one)."""
    started = time.time_ns() - CTIME_TOLERANCE_NS
    log = AccessLog()
    for n in range(2000):
        final = tmp_path / f"shard_{n}"
        (final / "part").mkdir(parents=True)
        (final / "part" / "data.bin").write_bytes(b"x")
        log.write(f"{tmp_path}/shard_{n}.tmp/part/data.bin")
        log.rename(f"{tmp_path}/shard_{n}.tmp", str(final))
    filters = Filters(project_root=str(tmp_path), home="/home/u", tmp_dirs=())
    result = classify(log, filters, started)
    assert len(result.outputs) == 2000
    assert result.outputs[0] == f"{tmp_path}/shard_0/part/data.bin"
    assert result.inputs == []  # the job's own content: nothing moved from before it
