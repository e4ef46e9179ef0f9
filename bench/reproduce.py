"""`roar reproduce`: planning a 1,000-step lineage, and replaying a pipeline against by hand.

Run as `.venv/bin/python bench/reproduce.py [--quick] [--no-peers] [--rounds N] [--profile]`.
Both cases run in one go, each in its own real git repository with an isolated HOME and git
config (as the tests set them up), on roar's default SQLite store:

1. Planning. `Store.record_job` writes a chain of 1,000 jobs: job 1 reads the source
   data/s0000.bin, job i reads job i-1's output and writes its own, and every job also reads
   step.py (committed, so the repository's HEAD is every job's `git_commit`) and records the
   environment bench/lineage.py uses. The source and step.py are on disk with their real
   hashes; the jobs' outputs are not. Timed: `roar.reproduce.load_plan(store, PATH)` of the
   last output in-process (median of several after a warm-up; target <= 0.2 s), and the CLI
   `roar reproduce PATH`, which prints the plan and changes nothing (it also hashes the two
   sources and lists the installed packages; target <= 1.0 s), next to `roar --help`
   start-up, interleaved. The plan must hold the 1,000 steps, each after its predecessor, and
   exactly the two sources; the CLI must print every step; else exit 2.

2. Replay. A five-step linear pipeline, `python3 step.py IN OUT LOOPS PAUSE`: each step spins
   pure-Python CPU for about 0.5 s (calibrated here; it makes no syscalls, so a tracer that
   taxes them costs nothing there), sleeps 1.5 s, and writes its input plus a digest of it, a
   deterministic output that grows by a line per step from a 1 MiB source. Each tool gets its
   own copy of the repository and records the pipeline once, untimed (that is also its
   warm-up); then every timed round deletes the five outputs and runs, in a rotating order:
   - by hand: the five commands, bare, one after another;
   - roar: `roar reproduce OUT --run -y` for the last output, end to end: a fresh git worktree
     at the recorded commit, the source placed by hash, five traced runs, every output checked
     by hash, verified outputs restored to the checkout, the worktree removed. Recorded by
     five `roar run -q` after `roar init`. Target: <= 1.3x by hand;
   - dvc (peer; DVC 3.67.1, installed on first use into bench/.venvs/, which ignores itself
     in git): the same five stages in a dvc.yaml (`cmd`, `deps`, `outs`) after `dvc init`,
     recorded by one `dvc repro`; timed `dvc repro --force`, which reruns every stage and
     stores each output in DVC's cache.
   Every run must leave all five outputs byte-identical to the recorded ones (roar must also
   exit 0, which it does only when the target matches); roar or by hand failing is exit 2, a
   peer failing or not installing shows "n/a (reason)" with its stderr tail, and no verdict.

Medians of 3 rounds (`--rounds N`); `--quick` keeps the sizes, which the targets are about,
and takes fewer rounds (replay: 1). `--no-peers` skips DVC. `--profile` (automatic when
load_plan misses its target) prints cProfile's top functions of one `load_plan`. Exit status:
0 when every target is met, 1 when one is missed, 2 when a result is wrong. All scratch files
live in one temporary directory removed at the end.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

# bench/trace.py, not the stdlib's trace: a script's own directory comes first on sys.path
from trace import ToolFailed, ensure_venv

from benchlib import SPIN_PY, finish, format_table, scratch_parent
from lineage import ENV, HOST

from roar.hashing import Hasher
from roar.models import Artifact, FileRef, JobSpec
from roar.project import Project, init_project
from roar.reproduce import Plan, load_plan

ROAR = str(Path(sys.executable).with_name("roar"))
DVC_REQUIREMENT = "dvc==3.67.1"
PLAN_TARGET_S = 0.2
PLAN_CLI_TARGET_S = 1.0
REPLAY_TARGET = 1.3  # roar reproduce / by hand

STEPS = 5
CPU_S = 0.5  # per step, pure Python
PAUSE_S = 1.5  # per step, asleep
SOURCE_BYTES = 1 << 20
BASE_TIME = 1_700_000_000.0
RUN_TIMEOUT_S = 600
TAIL_CHARS = 1500


class BenchError(Exception):
    """A result was wrong, not merely slow: the benchmark itself cannot be trusted."""


@dataclass(frozen=True)
class Sizes:
    plan_jobs: int
    plan_runs: int  # in-process load_plan rounds
    cli_runs: int  # `roar reproduce PATH` and `roar --help` rounds
    rounds: int  # replay rounds per tool


FULL = Sizes(plan_jobs=1_000, plan_runs=11, cli_runs=7, rounds=3)
QUICK = Sizes(plan_jobs=1_000, plan_runs=5, cli_runs=3, rounds=1)


# -- shared helpers --------------------------------------------------------------------------


def isolated_env(home: Path) -> dict[str, str]:
    """os.environ with its own HOME and git identity, and no ROAR_/GIT_ settings leaking in."""
    home.mkdir(parents=True)
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Roar Bench\n\temail = bench@roar.invalid\n"
        "[init]\n\tdefaultBranch = main\n",
        encoding="utf-8",
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ROAR_", "GIT_")) and k != "XDG_CONFIG_HOME"
    }
    env.update(
        HOME=str(home),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=str(home / ".gitconfig"),
        DVC_NO_ANALYTICS="1",  # no network calls from the peer
    )
    return env


def _tail(text: bytes | None) -> str:
    return (text or b"").decode(errors="replace").strip()[-TAIL_CHARS:]


def call(argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> tuple[float, str]:
    """(seconds, stdout) of `argv`; raises ToolFailed when it fails or times out."""
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
            timeout=RUN_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as exc:
        raise ToolFailed(f"timed out after {RUN_TIMEOUT_S} s", _tail(exc.stderr)) from None
    except OSError as exc:
        raise ToolFailed(f"cannot start: {exc.strerror}", "") from None
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise ToolFailed(f"exit {proc.returncode}", _tail(proc.stderr) or _tail(proc.stdout))
    return elapsed, proc.stdout.decode(errors="replace")


def must(argv: Sequence[str], cwd: Path, env: Mapping[str, str]) -> tuple[float, str]:
    """`call` for roar and setup commands, whose failure makes the benchmark meaningless."""
    try:
        return call(argv, cwd, env)
    except ToolFailed as exc:
        raise BenchError(f"`{' '.join(argv)}` failed ({exc.reason}): {exc.tail}") from None


def git_repo(root: Path, files: Mapping[str, str], env: Mapping[str, str]) -> str:
    """A git repository at `root` with `files` committed; returns HEAD."""
    root.mkdir(parents=True)
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    must(["git", "init", "-q"], root, env)
    must(["git", "add", *files], root, env)
    must(["git", "commit", "-qm", "pipeline"], root, env)
    return must(["git", "rev-parse", "HEAD"], root, env)[1].strip()


def _s(value: float) -> str:
    return f"{value:.3f} s"


# -- case 1: planning a long lineage ---------------------------------------------------------

CHAIN_STEP_PY = "import shutil, sys\nshutil.copyfile(sys.argv[1], sys.argv[2])\n"


def _chain_path(index: int) -> str:
    return f"data/s{index:04d}.bin"


def _fake_digest(name: str) -> str:
    """A 64-hex-digit stand-in for an output's BLAKE3 hash: outputs are not on disk."""
    return hashlib.blake2b(name.encode(), digest_size=32).hexdigest()


def build_chain(root: Path, jobs: int, env: Mapping[str, str]) -> Project:
    """A project whose store holds a chain of `jobs` jobs, recorded at the repo's HEAD."""
    head = git_repo(root, {"step.py": CHAIN_STEP_PY}, env)
    (root / "data").mkdir()
    (root / _chain_path(0)).write_bytes(os.urandom(4096))
    project = init_project(root, nested=True).project
    with project.open_store() as store:
        hashed = Hasher(store).hash_paths([root / "step.py", root / _chain_path(0)])
        script, previous = (
            FileRef(name, Artifact(d.hash, d.size))
            for name, d in zip(("step.py", _chain_path(0)), hashed, strict=True)
        )
        for index in range(1, jobs + 1):
            output = FileRef(_chain_path(index), Artifact(_fake_digest(f"s{index}"), 4096))
            started = BASE_TIME + 60.0 * index
            spec = JobSpec(
                step=f"step{index:04d}",
                command=("python3", "step.py", previous.path, output.path),
                cwd=".",
                started_at=started,
                ended_at=started + 30.0,
                exit_code=0,
                git_commit=head,
                git_branch="main",
                git_dirty=False,
                env=ENV,
                host=HOST,
                trace_coverage="full",
            )
            store.record_job(spec, [script, previous], [output])
            previous = output
    return project


def check_plan(plan: Plan, jobs: int) -> None:
    """The chain's plan: `jobs` steps in order, each after the one before, two sources."""
    ids = [step.job.id for step in plan.steps]
    if ids != list(range(1, jobs + 1)) or plan.builds:
        raise BenchError(f"plan has steps {ids[:3]}...{ids[-3:]} and {len(plan.builds)} builds")
    wrong = [s.job.id for s in plan.steps if s.needs != ((s.job.id - 1,) if s.job.id > 1 else ())]
    if wrong:
        raise BenchError(f"steps {wrong[:5]} do not depend on exactly their predecessor")
    sources = sorted(source.path for source in plan.sources)
    if sources != sorted(["step.py", _chain_path(0)]) or plan.warnings:
        raise BenchError(f"plan sources {sources}, warnings {list(plan.warnings)[:3]}")
    if plan.target_path != _chain_path(jobs):
        raise BenchError(f"plan is for {plan.target_path}, not {_chain_path(jobs)}")


def time_load_plan(project: Project, ref: str, sizes: Sizes) -> float:
    """Median seconds of `load_plan` in-process, after a checked warm-up."""
    root = project.root
    with project.open_store() as store:
        check_plan(load_plan(store, ref, project_root=root, cwd=root), sizes.plan_jobs)
        times = []
        for _ in range(sizes.plan_runs):
            start = time.perf_counter()
            load_plan(store, ref, project_root=root, cwd=root)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def profile_load_plan(project: Project, ref: str, top: int = 25) -> list[str]:
    """cProfile of one warm `load_plan`: the functions with the most cumulative time."""
    root = project.root
    with project.open_store() as store:
        load_plan(store, ref, project_root=root, cwd=root)  # warm: same state as the timing
        profiler = cProfile.Profile()
        profiler.enable()
        load_plan(store, ref, project_root=root, cwd=root)
        profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
    return ["== cProfile of one load_plan, by cumulative time", out.getvalue().rstrip()]


def time_plan_cli(
    root: Path, ref: str, sizes: Sizes, env: Mapping[str, str]
) -> tuple[float, float]:
    """Median seconds of `roar reproduce REF` (plan only) and of `roar --help`, interleaved."""
    _, out = must([ROAR, "reproduce", ref], root, env)
    last = f"@{sizes.plan_jobs} step{sizes.plan_jobs:04d}"
    if last not in out or out.count(" -> data/") != sizes.plan_jobs:
        raise BenchError(f"`roar reproduce {ref}` does not print all {sizes.plan_jobs} steps")
    if out.count("at its path") != 2:
        raise BenchError(f"`roar reproduce {ref}` does not find both sources in place")
    plan_times, help_times = [], []
    for _ in range(sizes.cli_runs):
        help_times.append(must([ROAR, "--help"], root, env)[0])
        plan_times.append(must([ROAR, "reproduce", ref], root, env)[0])
    return statistics.median(plan_times), statistics.median(help_times)


@dataclass(frozen=True)
class PlanResult:
    load_plan_s: float
    cli_s: float
    help_s: float
    profile: list[str]


def run_plan_case(scratch: Path, sizes: Sizes, env: Mapping[str, str], profile: bool) -> PlanResult:
    start = time.perf_counter()
    project = build_chain(scratch / "chain", sizes.plan_jobs, env)
    print(
        f"planning: recorded {sizes.plan_jobs:,} jobs in {time.perf_counter() - start:.1f} s",
        file=sys.stderr,
    )
    ref = _chain_path(sizes.plan_jobs)
    in_process = time_load_plan(project, ref, sizes)
    cli_s, help_s = time_plan_cli(project.root, ref, sizes, env)
    notes = profile_load_plan(project, ref) if profile or in_process > PLAN_TARGET_S else []
    return PlanResult(in_process, cli_s, help_s, notes)


def plan_rows(result: PlanResult, sizes: Sizes) -> list[tuple[str, ...]]:
    def verdict(value: float, limit: float) -> str:
        return "PASS" if value <= limit else "FAIL"

    jobs = f"{sizes.plan_jobs:,}-step lineage"
    return [
        (
            f"load_plan in-process, {jobs} (median of {sizes.plan_runs})",
            _s(result.load_plan_s),
            "-",
            "-",
            f"<= {PLAN_TARGET_S:g} s",
            verdict(result.load_plan_s, PLAN_TARGET_S),
        ),
        (
            f"roar reproduce PATH (plan only), {jobs} (median of {sizes.cli_runs})",
            _s(result.cli_s),
            _s(result.help_s),
            f"{result.cli_s / result.help_s:.2f}",
            f"<= {PLAN_CLI_TARGET_S:g} s",
            verdict(result.cli_s, PLAN_CLI_TARGET_S),
        ),
    ]


# -- case 2: replaying a pipeline ------------------------------------------------------------

PIPELINE_STEP_PY = (
    "import hashlib\nimport sys\nimport time\n\n\n"
    + SPIN_PY
    + """source, target = sys.argv[1], sys.argv[2]
loops, pause = int(sys.argv[3]), float(sys.argv[4])
with open(source, "rb") as f:
    data = f.read()
total = spin(loops)
time.sleep(pause)
with open(target, "wb") as f:
    f.write(data)
    f.write(hashlib.sha256(data + str(total).encode()).hexdigest().encode() + b"\\n")
"""
)


def _stage_path(index: int) -> str:
    return "data/raw.bin" if index == 0 else f"data/s{index}.bin"


OUTPUTS = tuple(_stage_path(i) for i in range(1, STEPS + 1))


def pipeline_commands(loops: int) -> list[list[str]]:
    return [
        ["python3", "step.py", _stage_path(i - 1), _stage_path(i), str(loops), str(PAUSE_S)]
        for i in range(1, STEPS + 1)
    ]


def calibrate(workdir: Path, env: Mapping[str, str]) -> int:
    """Loop count that keeps one step's CPU part busy for about CPU_S when run bare."""
    _, out = must(["python3", "step.py", "calibrate"], workdir, env)
    return max(1, int(float(out.strip()) * CPU_S))


def dvc_yaml(commands: Sequence[Sequence[str]]) -> str:
    lines = ["stages:"]
    for index, argv in enumerate(commands, start=1):
        lines += [
            f"  s{index}:",
            f"    cmd: {' '.join(argv)}",
            f"    deps: [step.py, {_stage_path(index - 1)}]",
            f"    outs: [{_stage_path(index)}]",
        ]
    return "\n".join(lines) + "\n"


@dataclass
class Replayer:
    """One way to run the pipeline again, in its own copy of the repository."""

    name: str
    workdir: Path
    peer: bool
    setup: list[list[str]]  # untimed, in order: init and the recording runs
    replay: Callable[[Path, Mapping[str, str]], None]  # raises ToolFailed
    files: Mapping[str, str] = field(default_factory=dict)  # written into its copy first
    unavailable: str | None = None


def _by_hand(commands: Sequence[Sequence[str]]) -> Callable[[Path, Mapping[str, str]], None]:
    def replay(workdir: Path, env: Mapping[str, str]) -> None:
        for argv in commands:
            call(argv, workdir, env)

    return replay


def _single(argv: Sequence[str]) -> Callable[[Path, Mapping[str, str]], None]:
    def replay(workdir: Path, env: Mapping[str, str]) -> None:
        call(argv, workdir, env)

    return replay


def make_replayers(scratch: Path, commands: list[list[str]], with_peers: bool) -> list[Replayer]:
    roar_setup = [[ROAR, "init"], *([ROAR, "run", "-q", *argv] for argv in commands)]
    replayers = [
        Replayer("by hand", scratch / "hand", False, [], _by_hand(commands)),
        Replayer(
            "roar",
            scratch / "roar",
            False,
            roar_setup,
            _single([ROAR, "reproduce", OUTPUTS[-1], "--run", "-y"]),
        ),
    ]
    if not with_peers:
        return replayers
    venv, error = ensure_venv("dvc", [DVC_REQUIREMENT])
    dvc = str(venv / "bin" / "dvc")
    replayers.append(
        Replayer(
            f"dvc {DVC_REQUIREMENT.split('==')[1]}",
            scratch / "dvc",
            True,
            [[dvc, "init", "-q"], [dvc, "repro", "-q"]],
            _single([dvc, "repro", "--force", "-q"]),
            files={"dvc.yaml": dvc_yaml(commands)},
            unavailable=error,
        )
    )
    return replayers


def _report_peer_failure(name: str, what: str, exc: ToolFailed) -> None:
    print(f"--- {name}: {what} failed ({exc.reason}); stderr tail:", file=sys.stderr)
    print(exc.tail or "(empty)", file=sys.stderr)


def prepare(replayer: Replayer, template: Path, env: Mapping[str, str]) -> None:
    """Copy the repository for `replayer` and run its untimed setup (its recording)."""
    shutil.copytree(template, replayer.workdir, symlinks=True)
    for name, text in replayer.files.items():
        (replayer.workdir / name).write_text(text, encoding="utf-8")
    if replayer.unavailable is not None:
        return
    for argv in replayer.setup:
        try:
            call(argv, replayer.workdir, env)
        except ToolFailed as exc:
            if not replayer.peer:
                raise BenchError(f"`{' '.join(argv)}` failed ({exc.reason}): {exc.tail}") from None
            _report_peer_failure(replayer.name, " ".join(argv[1:]), exc)
            replayer.unavailable = f"{argv[1]} failed: {exc.reason}"
            return


def remove_outputs(workdir: Path) -> None:
    """Delete the pipeline's outputs and flush, so no run pays for another's writes."""
    for rel in OUTPUTS:
        (workdir / rel).unlink(missing_ok=True)
    os.sync()


def outputs_of(workdir: Path) -> dict[str, bytes | None]:
    return {
        rel: (workdir / rel).read_bytes() if (workdir / rel).is_file() else None for rel in OUTPUTS
    }


@dataclass
class ReplayResult:
    times: dict[str, list[float]]
    failed: dict[str, str]  # replayer name -> reason


def replay_once(
    replayer: Replayer, expected: Mapping[str, bytes | None], env: Mapping[str, str]
) -> float | None:
    """Seconds of one replay from deleted outputs, checked; None when a peer failed."""
    remove_outputs(replayer.workdir)
    start = time.perf_counter()
    try:
        replayer.replay(replayer.workdir, env)
    except ToolFailed as exc:
        if not replayer.peer:
            raise BenchError(f"{replayer.name} replay failed ({exc.reason}): {exc.tail}") from None
        _report_peer_failure(replayer.name, "replay", exc)
        replayer.unavailable = exc.reason
        return None
    elapsed = time.perf_counter() - start
    got = outputs_of(replayer.workdir)
    wrong = [rel for rel in OUTPUTS if got[rel] != expected[rel]]
    if wrong:
        if not replayer.peer:
            raise BenchError(f"{replayer.name} left {wrong} missing or different")
        replayer.unavailable = f"wrong outputs: {', '.join(wrong)}"
        return None
    return elapsed


def run_replay_case(
    scratch: Path, sizes: Sizes, env: Mapping[str, str], with_peers: bool
) -> tuple[ReplayResult, list[Replayer]]:
    template = scratch / "pipeline"
    git_repo(template, {"step.py": PIPELINE_STEP_PY}, env)
    (template / "data").mkdir()
    (template / _stage_path(0)).write_bytes(os.urandom(SOURCE_BYTES))
    commands = pipeline_commands(calibrate(template, env))
    replayers = make_replayers(scratch, commands, with_peers)
    for replayer in replayers:
        prepare(replayer, template, env)
    expected = outputs_of(replayers[1].workdir)  # what roar recorded
    missing = [rel for rel, content in expected.items() if content is None]
    if missing:
        raise BenchError(f"the recorded pipeline left {missing} missing")
    result = ReplayResult({r.name: [] for r in replayers}, {})
    for round_no in range(sizes.rounds):
        shift = round_no % len(replayers)  # rotate the order so drift hits every tool alike
        for replayer in [*replayers[shift:], *replayers[:shift]]:
            if replayer.unavailable is None:
                elapsed = replay_once(replayer, expected, env)
                if elapsed is not None:
                    result.times[replayer.name].append(elapsed)
    result.failed = {r.name: r.unavailable for r in replayers if r.unavailable is not None}
    raw = "; ".join(
        f"{name} " + "/".join(f"{x:.2f}" for x in times)
        for name, times in result.times.items()
        if times
    )
    print(f"replay: runs (s): {raw}", file=sys.stderr)
    return result, replayers


def replay_row(
    result: ReplayResult, replayers: Sequence[Replayer], sizes: Sizes
) -> tuple[str, ...]:
    hand = statistics.median(result.times["by hand"])
    roar = statistics.median(result.times["roar"])
    cells = [
        f"{STEPS} steps x ~{CPU_S + PAUSE_S:g} s (median of {sizes.rounds})",
        _s(hand),
        _s(roar),
        f"{roar / hand:.2f}x",
    ]
    for peer in replayers[2:]:
        if peer.name in result.failed:
            cells += [f"n/a ({result.failed[peer.name]})", "-"]
        else:
            median = statistics.median(result.times[peer.name])
            cells += [_s(median), f"{median / hand:.2f}x"]
    verdict = "PASS" if roar / hand <= REPLAY_TARGET else "FAIL"
    return (*cells, f"<= {REPLAY_TARGET:g}x", verdict)


def render(
    plan_table: Sequence[Sequence[str]], row: Sequence[str], replayers: Sequence[Replayer]
) -> str:
    """Both tables, each under a line that says what it measures."""
    plan_header = ("measurement", "roar", "roar --help", "ratio", "target", "verdict")
    peers = [name for p in replayers[2:] for name in (f"{p.name} repro --force", "peer ratio")]
    replay_header = (
        "measurement",
        "by hand",
        "roar reproduce --run",
        "roar ratio",
        *peers,
        "target",
        "verdict",
    )
    return "\n".join(
        [
            "planning (SQLite store, plan only: nothing runs); ratio against roar --help",
            format_table(plan_header, plan_table),
            "",
            "replay from deleted outputs, wall time; ratios against by hand",
            format_table(replay_header, [row]),
        ]
    )


# -- driver ----------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, same sizes")
    parser.add_argument("--no-peers", action="store_true", help="no DVC")
    parser.add_argument("--rounds", type=int, metavar="N", help="replay rounds (3; quick: 1)")
    parser.add_argument("--profile", action="store_true", help="cProfile one load_plan")
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.rounds is not None:
        if args.rounds < 1:
            parser.error("--rounds must be at least 1")
        sizes = replace(sizes, rounds=args.rounds)
    scratch = Path(tempfile.mkdtemp(prefix="roar-bench-reproduce-", dir=scratch_parent()))
    try:
        env = isolated_env(scratch / "home")
        plan = run_plan_case(scratch, sizes, env, args.profile)
        replay, replayers = run_replay_case(scratch, sizes, env, not args.no_peers)
    except BenchError as exc:
        print(f"benchmark error: {exc}", file=sys.stderr)
        return 2
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    plan_table = plan_rows(plan, sizes)
    row = replay_row(replay, replayers, sizes)
    print(render(plan_table, row, replayers))
    if plan.profile:
        print("\n" + "\n".join(plan.profile))
    failed = [r[0] for r in [*plan_table, row] if r[-1] == "FAIL"]
    return finish(failed)


if __name__ == "__main__":
    sys.exit(main())
