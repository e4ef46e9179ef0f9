"""Benchmarks are code: keep them runnable (their verdicts are read by people, not here)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def test_hashing_bench_quick_prints_its_table() -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "hashing.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode in (0, 1), proc.stderr  # 2 would mean a wrong result
    header = proc.stdout.splitlines()[0]
    assert [cell.strip() for cell in header.split(" | ")][:4] == [
        "benchmark",
        "roar",
        "baseline",
        "ratio",
    ]
    assert "re-hash 1,000 files" in proc.stdout


def test_recording_bench_quick_compares_groups_with_one_row_per_file() -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "recording.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr  # 2: roar's last job lost inputs
    lines = proc.stdout.splitlines()
    assert [cell.strip() for cell in lines[0].split(" | ")][1:] == [
        "roar",
        "one row per file",
        "ratio",
    ]
    sizes = next(line for line in lines if line.startswith("store size after 20 runs"))
    roar_mb, per_file_mb = (float(cell.split()[0]) for cell in sizes.split(" | ")[1:3])
    # every rerun adds a row per file in the old layout and a row per group in roar's
    assert per_file_mb > 3 * roar_mb


def test_lineage_and_status_benches_quick_give_right_answers() -> None:
    for script, args in (
        ("lineage.py", ["--quick", "--no-postgres"]),
        ("status.py", ["--quick"]),
        ("tasks.py", ["--quick"]),
        ("checkpoints.py", ["--quick", "--no-s3"]),
    ):
        proc = subprocess.run(
            [sys.executable, str(REPO / "bench" / script), *args],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert proc.returncode in (0, 1), (script, proc.stdout, proc.stderr)  # 2: wrong answer
        assert "PASS" in proc.stdout or "FAIL" in proc.stdout


def test_registry_bench_quick_gives_right_answers() -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "registry.py"), "--quick", "--no-gto"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode in (0, 1), (proc.stdout, proc.stderr)  # 2: wrong answer
    assert "show --json" in proc.stdout


def _trace_bench() -> Any:
    import importlib.util

    sys.path.insert(0, str(REPO / "bench"))
    try:
        spec = importlib.util.spec_from_file_location("trace_bench", REPO / "bench" / "trace.py")
        assert spec is not None
        assert spec.loader is not None
        bench = importlib.util.module_from_spec(spec)
        sys.modules["trace_bench"] = bench
        spec.loader.exec_module(bench)
    finally:
        sys.path.remove(str(REPO / "bench"))
    return bench


def test_trace_bench_rows_carry_the_verdict_and_the_share_of_reprozip() -> None:
    """The trace bench needs minutes and the peers' venvs, so its table logic is checked
    here on made-up timings: absolute verdict, and roar's overhead next to ReproZip's."""
    bench = _trace_bench()
    tools = [
        bench.Tool(name, lambda _w, cmd, _o: list(cmd), {}, peer=name != "roar")
        for name in ("bare", "roar", bench.REPROZIP_NAME)
    ]
    seconds = bench.Workload("b", "(b) small", ("x",), target=0.3, reprozip_reference=2.1)
    slow_day = bench.Result(seconds, {"bare": [1.0], "roar": [1.5], bench.REPROZIP_NAME: [9.0]}, {})
    row = bench.make_row(slow_day, tools)
    assert row.passed is False  # +0.5 s against +0.3 s
    assert row.cells[-1] == "0.06 (<= 0.14: ok)"  # 0.5 / 8.0, against 0.3 / 2.1
    ratio = bench.Workload("c", "(c) big", ("x",), 1.3, ratio=True, reprozip_reference=1.45)
    heavy = bench.Result(ratio, {"bare": [1.0], "roar": [1.5], bench.REPROZIP_NAME: [2.0]}, {})
    row = bench.make_row(heavy, tools)
    assert row.cells[2] == "1.50x"
    assert row.passed is False
    assert row.cells[-1] == "0.50 (<= 0.67: ok)"  # 0.5 / 1.0, against 0.3 / 0.45
    over = bench.Result(ratio, {"bare": [1.0], "roar": [1.9], bench.REPROZIP_NAME: [2.0]}, {})
    assert bench.make_row(over, tools).cells[-1] == "0.90 (<= 0.67: over)"
    info = bench.Workload("g", "(g) early", ("x",), target=None)
    untargeted = bench.Result(info, {"bare": [1.0], "roar": [9.0], bench.REPROZIP_NAME: [2.0]}, {})
    row = bench.make_row(untargeted, tools)
    assert row.passed is None  # shown, never a failure
    assert row.cells[-3:] == ("none", "info", "n/a")


def test_trace_bench_pairs_each_run_with_the_bare_run_of_its_round() -> None:
    """A machine that slows down during the benchmark slows both runs of a round; the
    overhead is taken per round, so the drift cancels (medians apart would say +0.45 s)."""
    bench = _trace_bench()
    tools = [
        bench.Tool(name, lambda _w, cmd, _o: list(cmd), {}, peer=False) for name in ("bare", "roar")
    ]
    seconds = bench.Workload("b", "(b) small", ("x",), target=0.3)
    drifting = {"bare": [0.3, 0.35, 0.8], "roar": [0.5, 0.8, 1.0]}  # +0.2, +0.45, +0.2
    row = bench.make_row(bench.Result(seconds, drifting, {}), tools)
    assert row.cells[2] == "+0.200 s"
    assert row.passed is True
    ratio = bench.Workload("c", "(c) big", ("x",), 1.3, ratio=True)
    row = bench.make_row(bench.Result(ratio, {"bare": [1.0, 2.0], "roar": [1.2, 2.4]}, {}), tools)
    assert row.cells[2] == "1.20x"
    # a tool that ran in the first rounds only meets the bare runs of those rounds
    # (medians apart would say +0.0 s)
    first_rounds = {"bare": [1.0, 2.0, 3.0, 3.0], "roar": [2.5, 2.5]}  # +1.5, +0.5
    assert bench.make_row(bench.Result(seconds, first_rounds, {}), tools).cells[2] == "+1.000 s"


def test_trace_bench_runs_the_judged_tools_every_round_and_the_rest_in_the_first(
    tmp_path: Path,
) -> None:
    """bare, roar and floor decide or bound a verdict and get every round; the tools there
    only to compare with run in the first rounds, the peers' minutes kept in bounds."""
    bench = _trace_bench()
    order: list[str] = []

    def tool(name: str, judged: bool) -> Any:
        def wrap(_w: Path, _cmd: Any, _o: Any) -> list[str]:
            order.append(name)
            return ["true"]

        made = bench.Tool(name, wrap, dict(os.environ), peer=not judged, judged=judged)
        made.workdir = tmp_path
        return made

    tools = [tool("bare", True), tool("roar", True), tool("floor", True), tool("peer", False)]
    workload = bench.Workload("f", "(f) true", ("true",), target=0.15)
    result = bench.run_workload(workload, tools, rounds=4, compared_rounds=2)
    assert {name: len(times) for name, times in result.times.items()} == {
        "bare": 4, "roar": 4, "floor": 4, "peer": 2
    }  # fmt: skip
    warm_up, timed = order[:4], order[4:]
    assert warm_up == ["bare", "roar", "floor", "peer"]  # every tool warms up once
    # rounds rotate the order, so no tool always runs right after another
    assert timed == [
        "bare", "roar", "floor", "peer",
        "roar", "floor", "peer", "bare",
        "floor", "bare", "roar",
        "bare", "roar", "floor",
    ]  # fmt: skip


def test_trace_bench_says_when_even_the_floor_misses_a_target() -> None:
    bench = _trace_bench()
    tools = [
        bench.Tool(name, lambda _w, cmd, _o: list(cmd), {}, peer=False)
        for name in ("bare", "roar", "floor")
    ]
    seconds = bench.Workload("b", "(b) small", ("x",), target=0.3)
    reachable = bench.Result(seconds, {"bare": [1.0], "roar": [1.5], "floor": [1.2]}, {})
    assert bench.make_row(reachable, tools).beyond_reach is None  # roar's own +0.3 s
    walled = bench.Result(seconds, {"bare": [1.0], "roar": [1.5], "floor": [1.4]}, {})
    assert bench.make_row(walled, tools).beyond_reach == (
        "(b) small: even the floor's fastest run costs +0.400 s over the slowest bare run: "
        "here only hashing while the command runs can meet the target"
    )
    # noise: the medians say +0.5 s, but one floor run came within the target of a slow
    # bare run, so the machine may allow it
    noisy = bench.Result(
        seconds, {"bare": [1.0, 1.0, 1.5], "roar": [1.5] * 3, "floor": [1.5, 1.5, 1.7]}, {}
    )
    assert bench.make_row(noisy, tools).beyond_reach is None
    ratio = bench.Workload("c", "(c) big", ("x",), 1.3, ratio=True)
    heavy = bench.Result(ratio, {"bare": [1.0, 1.1], "roar": [2.0], "floor": [1.6, 1.7]}, {})
    assert "1.45x over the slowest bare run" in bench.make_row(heavy, tools).beyond_reach
    info = bench.Workload("g", "(g) early", ("x",), target=None)
    untargeted = bench.Result(info, {"bare": [1.0], "roar": [9.0], "floor": [9.0]}, {})
    assert bench.make_row(untargeted, tools).beyond_reach is None


def test_trace_floor_traces_the_command_and_hashes_its_outputs(tmp_path: Path) -> None:
    floor = [sys.executable, str(REPO / "bench" / "trace_floor.py")]
    write = "mkdir -p out && echo one > out/a && echo two > out/b"
    ok = subprocess.run(
        [*floor, "--hash", "out", "--", "sh", "-c", write],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "out" / "b").read_text() == "two\n"
    failing = subprocess.run(
        [*floor, "--", "sh", "-c", "exit 3"], cwd=tmp_path, timeout=120, check=False
    )
    assert failing.returncode == 3  # the command's status, as roar run gives it
    nothing = subprocess.run(
        [*floor, "--hash", "missing", "--", "true"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert nothing.returncode == 2  # a workload that wrote nothing would flatter the floor
    assert "nothing to hash under ['missing']" in nothing.stderr
