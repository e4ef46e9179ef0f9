"""All-in cost of `roar run` (trace + hash + record) against bare runs and two peer tracers.

Run as `.venv/bin/python bench/trace.py [--quick] [--no-peers] [--rounds N]`. Every workload
runs, in one go and with the rounds interleaved, as:

- bare: the command itself;
- roar: `roar run -q CMD` with this repository's roar, in a project made by `roar init`
  (`auto` picks the seccomp tracer where the kernel allows it);
- roar-strace: the same with `--tracer strace` (ptrace), for comparison; no target;
- roar-late: roar with `hash.early` off (ROAR_HASH_EARLY=false): everything is hashed after
  the command, as before early hashing; the baseline that shows what hashing during the
  run saves; no target;
- floor: bench/trace_floor.py, the least a roar on this tracer must do: start Python, load
  the tracer `auto` picks (as lightly as roar does before its command starts), run the
  command under it, then BLAKE3 the workload's outputs on every core; no git, store,
  classification or record. roar can come in under it, as it loads the rest of itself
  while the command runs (run/launch.py) and hashes big outputs as they are written
  (run/tail.py). Where even the floor's fastest run misses a target against the slowest
  bare run, a line under the table says so: no roar that hashes outputs only after the
  command can meet that target on this machine. (g)'s floor leaves out the
  input hash roar must take there. No target;
- reprozip: `reprozip trace --dont-identify-packages --overwrite -d DIR CMD` (ReproZip 1.3.2,
  ptrace-based, records every file access in its own SQLite trace);
- roar-cli: `roar run -q --tracer ptrace --no-tracer-fallback CMD` with the published
  `roar-cli==0.4.7`, in its own `roar init` project (its /tmp filter switched off, since the
  scratch directory may live under /tmp).

The workload directory is a git work tree, as a user's project is: the scripts committed, the
data and outputs ignored, so a roar pays for capturing the git state on every run. Each tool
gets its own copy of it (both roars keep a `.roar/`, ReproZip a `.reprozip-trace/`), and
outputs are removed around every run so each run does the same work. What a user waits for
is the whole command, so that is what is timed: tracer start-up, the traced command, git
state, hashing what it read and wrote, and writing the record. One untimed warm-up
run per tool and workload comes first (page cache, bytecode, roar's hash cache), then the
timed rounds, each tool in a rotating order. The table shows the bare run's median and, for
every tool, the median over rounds of its overhead against the bare run of the same round
(paired, so drift during the benchmark cancels out). bare, roar and floor, whose runs decide
or bound a verdict, run 15 rounds; roar-strace, roar-late and the peers, there to compare
with, run in the first 5. On a shared VM a run's wall time wanders from one run to the next
(CPU-bound Python: about 10% between two runs side by side, as much as between runs minutes
apart, so pairing cannot take it out), and one round in three can run 20-50% slow: the
median of five paired differences of (d)'s 2 s job then moves by ~0.15 s, most of its
+0.2 s target; fifteen narrow that by 1/sqrt(3). The workloads:

(a) `import numpy, pandas`: hundreds of files opened by an everyday ML preamble; the package
    reads must be classified away cheaply.
(b) many small reads and writes (5,000 inputs, 500 outputs): per-file cost of tracing,
    hashing and recording; afterwards roar's newest job must hold every input and output,
    or the benchmark stops with exit 2.
(c) one 1 GiB file written in 1 MiB chunks: the tracer must not slow big I/O down, and the
    output has to be hashed (overhead shown as a ratio). roar hashes it as it is written
    (run/tail.py: seccomp tracer, `hash.early`) and, where the trace proves no byte was
    written again, only the last few MiB are left for the end; roar-late hashes it all
    afterwards.
(d) about 2 s of pure Python CPU: a tracer that makes no syscalls should cost nothing.
(e) short child pipelines (`echo x | cat > /dev/null`, 300 times): process start-up under
    the tracer, which pays per fork/exec.
(f) `true`: the fixed cost of every `roar run`.
(g) read a 1 GiB input in 1 MiB chunks, then about 1 s of CPU, as a training step reads
    its data and then computes; no target. roar hashes inputs it has not seen while the
    command runs (`hash.early`, seccomp and strace tracers), so the input costs next to
    nothing; roar-late hashes it afterwards and shows what that costs. Before every run
    the input's ctime is moved and the run waits out roar's 2 s racy window, so no tool's
    cache already knows it; afterwards
    roar's recorded hash must be the file's BLAKE3, or the benchmark stops with exit 2.

The last column puts roar next to ReproZip, measured in the same run: roar's overhead as a
share of ReproZip's, and the share the issue's target allows against ReproZip's overhead on
the issue's reference machine (+0.6 s, +2.1 s, 1.45x, +0.27 s, +1.6 s for (a)-(e)). A
machine several times slower than the reference inflates every absolute overhead in the
table; the share stays comparable. The exit status follows the absolute targets only.

Python workloads run with a dedicated venv (numpy and pandas) whose `bin/` is first on PATH
for every tool. Bytecode caching is on for every tool (PYTHONDONTWRITEBYTECODE is dropped and
.pyc files go to `bench/.venvs/pycache`), as for any pip-installed tool; otherwise the editable
roar would compile its modules on every run. The peers and that venv are installed on first
use into `bench/.venvs/`, which ignores itself in git. A peer that cannot be installed or
fails on a workload shows "n/a (reason)" and its stderr tail is printed; that is not a
failure of roar. Targets apply to roar only. Exit status: 0 when every target is met, 1 when
one is missed, 2 when a result is wrong (a bare or roar run fails, roar recorded the wrong
files). `--quick` shrinks every size for a smoke run of a few minutes. All scratch files live
in one temporary directory that is removed at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field, replace
from pathlib import Path

from benchlib import SPIN_PY, finish, format_table, scratch_parent

MIB = 1 << 20
GIB = 1 << 30
FILES_PER_DIR = 100
RACY_SLEEP_S = 2.1  # roar's hash cache skips files changed in the last 2 s
RUN_TIMEOUT_S = 600
INSTALL_TIMEOUT_S = 900
TAIL_CHARS = 1500

VENV_DIR = Path(__file__).resolve().parent / ".venvs"
FLOOR_SCRIPT = Path(__file__).resolve().parent / "trace_floor.py"
WORKLOAD_REQUIREMENTS = ("numpy", "pandas")
REPROZIP_REQUIREMENT = "reprozip==1.3.2"
REPROZIP_NAME = "reprozip 1.3.2"
ROAR_CLI_REQUIREMENT = "roar-cli==0.4.7"
QUIET_PEER_ENV = {"DO_NOT_TRACK": "1", "ROAR_NO_TELEMETRY": "1"}


class BenchError(Exception):
    """A result was wrong, not merely slow: the benchmark itself cannot be trusted."""


class ToolFailed(Exception):
    """One run of one tool failed; for a peer this is a table entry, for roar a BenchError."""

    def __init__(self, reason: str, tail: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.tail = tail


@dataclass(frozen=True)
class Sizes:
    big_bytes: int
    reads: int
    writes: int
    cpu_s: float
    pipelines: int
    rounds: int  # timed runs of the judged tools (bare, roar, floor)
    compared_rounds: int  # of the others, which run in the first rounds only


FULL = Sizes(
    big_bytes=GIB, reads=5_000, writes=500, cpu_s=2.0, pipelines=300, rounds=15, compared_rounds=5
)
QUICK = Sizes(
    big_bytes=256 * MIB, reads=1_000, writes=100, cpu_s=0.5, pipelines=50, rounds=1,
    compared_rounds=1,
)  # fmt: skip


# -- workloads -------------------------------------------------------------------------------

IMPORTS_PY = "import numpy\nimport pandas\n"

SMALL_IO_PY = f"""\
import os
import sys

reads, writes = int(sys.argv[1]), int(sys.argv[2])
chunks = []
for i in range(reads):
    with open(f"data/d{{i // {FILES_PER_DIR}:03d}}/f{{i % {FILES_PER_DIR}:02d}}.txt", "rb") as f:
        chunks.append(f.read())
os.makedirs("out", exist_ok=True)
per = reads // writes
for j in range(writes):
    with open(f"out/o{{j:04d}}.txt", "wb") as f:
        f.write(b"".join(chunks[j * per:(j + 1) * per]))
"""

BIG_WRITE_PY = f"""\
import os
import sys

block = bytearray(os.urandom({MIB}))
with open("big.bin", "wb") as f:
    for i in range(int(sys.argv[1])):
        block[:8] = i.to_bytes(8, "little")
        f.write(block)
"""

EARLY_PY = (
    "import sys\nimport time\n\n\n"
    + SPIN_PY
    + """with open("input.bin", "rb", buffering=0) as f:
    while f.read(1 << 20):
        pass
spin(int(sys.argv[1]))
"""
)

CPU_PY = (
    "import sys\nimport time\n\n\n"
    + SPIN_PY
    + """spin(int(sys.argv[1]))
"""
)

PIPES_SH = """\
set -eu
i=0
while [ "$i" -lt "$1" ]; do
    echo x | cat > /dev/null
    i=$((i + 1))
done
"""


@dataclass(frozen=True)
class Workload:
    key: str
    title: str
    argv: tuple[str, ...]
    target: float | None  # roar's allowed overhead: seconds, or a ratio when `ratio`
    # ReproZip's overhead on the reference machine (same unit as `target`): the
    # target as a share of it is what roar may cost next to ReproZip on any machine
    reprozip_reference: float | None = None
    ratio: bool = False
    outputs: tuple[str, ...] = ()  # removed before and after every run
    check: Callable[[Path], None] | None = None  # roar's project dir -> raises BenchError
    skipped: str | None = None  # why this workload cannot run here at all
    prepare: Callable[[Path], None] | None = None  # before every run, with the tool's dir


def write_workload_files(root: Path, sizes: Sizes) -> None:
    root.mkdir(parents=True)
    for name, text in {
        "imports.py": IMPORTS_PY,
        "smallio.py": SMALL_IO_PY,
        "bigwrite.py": BIG_WRITE_PY,
        "cpu.py": CPU_PY,
        "pipes.sh": PIPES_SH,
        "early.py": EARLY_PY,
    }.items():
        (root / name).write_text(text, encoding="utf-8")
    for index in range(sizes.reads):
        folder = root / "data" / f"d{index // FILES_PER_DIR:03d}"
        if index % FILES_PER_DIR == 0:
            folder.mkdir(parents=True)
        size = 64 + int.from_bytes(os.urandom(2), "little") % 449
        (folder / f"f{index % FILES_PER_DIR:02d}.txt").write_bytes(os.urandom(size))
    commit_as_project(root)


#: What a project's .gitignore keeps out of git: data, outputs, the tools' own folders.
GITIGNORE = "data/\nout/\n*.bin\n.reprozip-trace/\n.roar/\n.trace-floor-probe.json\n"


def commit_as_project(root: Path) -> None:
    """Make `root` what roar runs in: a git work tree with its scripts committed and its
    data ignored, so every `roar run` pays for capturing the git state as a user's would."""
    (root / ".gitignore").write_text(GITIGNORE, encoding="utf-8")
    identity = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@localhost"}
    env = {**os.environ, **identity, "GIT_COMMITTER_NAME": "bench"}
    env["GIT_COMMITTER_EMAIL"] = "bench@localhost"
    for argv in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "workload"]):
        proc = subprocess.run(
            ["git", *argv], cwd=root, env=env, capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            raise BenchError(f"git {argv[0]} in the workload folder failed: {proc.stderr.strip()}")


def calibrate_cpu(python: str, workdir: Path, seconds: float) -> int:
    """Loop count that keeps the CPU workload busy for about `seconds` when run bare."""
    proc = subprocess.run(
        [python, "cpu.py", "calibrate"],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=False,
        timeout=RUN_TIMEOUT_S,
    )
    if proc.returncode != 0:
        raise BenchError(f"CPU calibration failed: {proc.stderr.strip()[-TAIL_CHARS:]}")
    return max(1, int(float(proc.stdout.strip()) * seconds))


def _newest_job(db: Path) -> tuple[int, str]:
    if not db.is_file():
        raise BenchError(f"roar wrote no database at {db}")
    with closing(sqlite3.connect(db)) as conn:
        row = conn.execute("SELECT id, command FROM jobs ORDER BY id DESC LIMIT 1").fetchone()
    if row is None:
        raise BenchError(f"roar recorded no job in {db}")
    return int(row[0]), str(row[1])


def _count(db: Path, table: str, job_id: int) -> int:
    with closing(sqlite3.connect(db)) as conn:
        (count,) = conn.execute(
            f"SELECT COUNT(*) FROM {table} WHERE job_id = ?",
            (job_id,),
        ).fetchone()
    return int(count)


def check_small_io(sizes: Sizes) -> Callable[[Path], None]:
    def check(project: Path) -> None:
        db = project / ".roar" / "roar.db"
        job_id, command = _newest_job(db)
        if "smallio.py" not in command:
            raise BenchError(f"roar's newest job is not the small-I/O run: {command}")
        inputs = _count(db, "job_inputs", job_id)
        outputs = _count(db, "job_outputs", job_id)
        if inputs < sizes.reads or outputs != sizes.writes:
            raise BenchError(
                f"roar job {job_id} recorded {inputs} inputs and {outputs} outputs; expected "
                f">= {sizes.reads} inputs and {sizes.writes} outputs"
            )

    return check


def check_big_write(sizes: Sizes) -> Callable[[Path], None]:
    def check(project: Path) -> None:
        db = project / ".roar" / "roar.db"
        job_id, _ = _newest_job(db)
        with closing(sqlite3.connect(db)) as conn:
            rows = conn.execute(
                "SELECT o.path, a.size FROM job_outputs o JOIN artifacts a"
                " ON a.hash = o.artifact_hash WHERE o.job_id = ?",
                (job_id,),
            ).fetchall()
        if [(path, size) for path, size in rows] != [("big.bin", sizes.big_bytes)]:
            raise BenchError(f"roar job {job_id} outputs {rows}; expected big.bin only")

    return check


def fresh_input(shared: Path, size: int) -> Callable[[Path], None]:
    """Before each run: the tool's `input.bin` is a hard link to one shared file (1 GiB on
    disk, not one per tool), whose ctime is moved so that no hash cache knows it, then
    aged past roar's racy window as a dataset on disk would be."""

    def prepare(workdir: Path) -> None:
        if not shared.exists():
            with shared.open("wb") as handle:
                for _ in range(size // MIB):
                    handle.write(os.urandom(MIB))
        link = workdir / "input.bin"
        if not link.exists():
            os.link(shared, link)
        os.utime(shared)  # a new ctime: every cache entry for it is stale
        time.sleep(RACY_SLEEP_S)

    return prepare


def check_early_input(shared: Path) -> Callable[[Path], None]:
    def check(project: Path) -> None:
        from blake3 import blake3

        db = project / ".roar" / "roar.db"
        job_id, _ = _newest_job(db)
        with closing(sqlite3.connect(db)) as conn:
            rows = conn.execute(
                "SELECT artifact_hash FROM job_inputs WHERE job_id = ? AND path = 'input.bin'",
                (job_id,),
            ).fetchall()
        hasher = blake3(max_threads=blake3.AUTO)
        hasher.update_mmap(str(shared))
        if [row[0] for row in rows] != [hasher.hexdigest()]:
            raise BenchError(f"roar job {job_id} recorded input.bin as {rows}, not its BLAKE3")

    return check


def _size_label(size: int) -> str:
    return f"{size // GIB} GiB" if size >= GIB else f"{size // MIB} MiB"


def make_workloads(
    python: str, cpu_loops: int, sizes: Sizes, numpy_missing: str | None, scratch: Path
) -> list[Workload]:
    shared_input = scratch / "shared-input.bin"
    return [
        Workload(
            "a",
            "(a) import numpy, pandas",
            (python, "imports.py"),
            target=0.2,
            reprozip_reference=0.6,
            skipped=numpy_missing,
        ),
        Workload(
            "b",
            f"(b) {sizes.reads:,} reads + {sizes.writes:,} writes",
            (python, "smallio.py", str(sizes.reads), str(sizes.writes)),
            target=0.3,
            reprozip_reference=2.1,
            outputs=("out",),
            check=check_small_io(sizes),
        ),
        Workload(
            "c",
            f"(c) write {_size_label(sizes.big_bytes)} in 1 MiB chunks",
            (python, "bigwrite.py", str(sizes.big_bytes // MIB)),
            target=1.3,
            reprozip_reference=1.45,
            ratio=True,
            outputs=("big.bin",),
            check=check_big_write(sizes),
        ),
        Workload(
            "d",
            f"(d) ~{sizes.cpu_s:g} s pure CPU",
            (python, "cpu.py", str(cpu_loops)),
            target=0.2,
            reprozip_reference=0.27,
        ),
        Workload(
            "e",
            f"(e) {sizes.pipelines} child pipelines",
            ("bash", "pipes.sh", str(sizes.pipelines)),
            target=0.5,
            reprozip_reference=1.6,
        ),
        Workload("f", "(f) true", ("true",), target=0.15),
        Workload(
            "g",
            f"(g) read a {_size_label(sizes.big_bytes)} input, then ~1 s CPU",
            (python, "early.py", str(max(1, int(cpu_loops / sizes.cpu_s)))),
            target=None,
            prepare=fresh_input(shared_input, sizes.big_bytes),
            check=check_early_input(shared_input),
        ),
    ]


# -- tools -----------------------------------------------------------------------------------


@dataclass
class Tool:
    name: str
    # (workdir, command, the workload's outputs) -> argv to run
    wrap: Callable[[Path, Sequence[str], Sequence[str]], list[str]]
    env: dict[str, str]
    peer: bool
    # Its runs decide a verdict (bare, roar) or bound one (floor): it runs every round. The
    # others, there to compare with, run in the first `compared_rounds` only.
    judged: bool = False
    workdir: Path = field(default_factory=Path)
    unavailable: str | None = None  # why this tool cannot run at all


def _tail(text: str | bytes | None) -> str:
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return text.strip()[-TAIL_CHARS:]


def _call(argv: Sequence[str], cwd: Path, env: Mapping[str, str], timeout: float) -> float:
    """Seconds `argv` took; raises ToolFailed when it fails or times out."""
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        raise ToolFailed(f"timed out after {timeout:.0f} s", _tail(exc.stderr)) from None
    except OSError as exc:
        raise ToolFailed(f"cannot start: {exc.strerror}", "") from None
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise ToolFailed(f"exit {proc.returncode}", _tail(proc.stderr) or _tail(proc.stdout))
    return elapsed


def ensure_venv(name: str, requirements: Sequence[str]) -> tuple[Path, str | None]:
    """A venv under bench/.venvs with `requirements` installed; (path, why it failed)."""
    VENV_DIR.mkdir(parents=True, exist_ok=True)
    ignore = VENV_DIR / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n", encoding="utf-8")
    venv = VENV_DIR / name
    stamp = venv / ".bench-requirements"
    wanted = "\n".join(requirements)
    if (venv / "bin" / "python").exists() and stamp.is_file() and stamp.read_text() == wanted:
        return venv, None
    print(f"installing {', '.join(requirements)} into {venv} ...", file=sys.stderr)
    shutil.rmtree(venv, ignore_errors=True)
    steps = [
        [sys.executable, "-m", "venv", str(venv)],
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", *requirements],
    ]
    for argv in steps:
        try:
            _call(argv, VENV_DIR, os.environ, INSTALL_TIMEOUT_S)
        except ToolFailed as exc:
            print(f"--- {' '.join(argv[:4])} failed ({exc.reason}):\n{exc.tail}", file=sys.stderr)
            return venv, f"install failed: {exc.reason}"
    stamp.write_text(wanted, encoding="utf-8")
    return venv, None


def make_tools(path_env: dict[str, str], with_peers: bool) -> list[Tool]:
    roar = str(Path(sys.executable).parent / "roar")
    tools = [
        Tool("bare", lambda _w, cmd, _o: list(cmd), path_env, peer=False, judged=True),
        Tool(
            "roar", lambda _w, cmd, _o: [roar, "run", "-q", *cmd], path_env, peer=False, judged=True
        ),
        Tool(
            "roar-strace",
            lambda _w, cmd, _o: [roar, "run", "-q", "--tracer", "strace", *cmd],
            path_env,
            peer=False,
        ),
        Tool(
            "roar-late",
            lambda _w, cmd, _o: [roar, "run", "-q", *cmd],
            {**path_env, "ROAR_HASH_EARLY": "false"},
            peer=False,
        ),
        Tool(
            "floor",
            lambda _w, cmd, outputs: [
                sys.executable,
                str(FLOOR_SCRIPT),
                *(token for path in outputs for token in ("--hash", path)),
                "--",
                *cmd,
            ],
            path_env,
            peer=False,
            judged=True,
        ),
    ]
    if not with_peers:
        return tools
    peer_env = {**path_env, **QUIET_PEER_ENV}
    rz_venv, rz_error = ensure_venv("reprozip", [REPROZIP_REQUIREMENT])
    reprozip = str(rz_venv / "bin" / "reprozip")
    tools.append(
        Tool(
            REPROZIP_NAME,
            lambda w, cmd, _o: [
                reprozip,
                "trace",
                "--dont-identify-packages",
                "--overwrite",
                "-d",
                str(w / ".reprozip-trace"),
                *cmd,
            ],  # fmt: skip
            peer_env,
            peer=True,
            unavailable=rz_error,
        )
    )
    rc_venv, rc_error = ensure_venv("roar-cli", [ROAR_CLI_REQUIREMENT])
    roar_cli = str(rc_venv / "bin" / "roar")
    tools.append(
        Tool(
            "roar-cli 0.4.7",
            lambda _w, cmd, _o: [
                roar_cli,
                "run",
                "-q",
                "--tracer",
                "ptrace",
                "--no-tracer-fallback",
                *cmd,
            ],
            peer_env,
            peer=True,
            unavailable=rc_error,
        )
    )
    return tools


def prepare_tool(tool: Tool, template: Path, scratch: Path) -> None:
    """Give `tool` its own copy of the workload directory, initialised as its project."""
    tool.workdir = scratch / tool.name.split()[0]
    shutil.copytree(template, tool.workdir)
    if tool.unavailable is not None:
        return
    setup: list[list[str]] = []
    if tool.name in ("roar", "roar-strace", "roar-late"):
        setup = [[str(Path(sys.executable).parent / "roar"), "init"]]
    elif tool.name.startswith("roar-cli"):
        roar_cli = tool.wrap(tool.workdir, [], [])[0]
        setup = [
            [roar_cli, "init", "--no-gitignore"],
            [roar_cli, "config", "set", "filters.ignore_tmp_files", "false"],
            [roar_cli, "config", "set", "output.verbosity", "quiet"],
        ]
    for argv in setup:
        try:
            _call(argv, tool.workdir, tool.env, RUN_TIMEOUT_S)
        except ToolFailed as exc:
            if not tool.peer:
                raise BenchError(f"{' '.join(argv)} failed ({exc.reason}): {exc.tail}") from None
            _report_peer_failure(tool.name, f"{' '.join(argv[1:])}", exc)
            tool.unavailable = f"{argv[1]} failed: {exc.reason}"
            return


def _report_peer_failure(tool: str, what: str, exc: ToolFailed) -> None:
    print(f"--- {tool}: {what} failed ({exc.reason}); stderr tail:", file=sys.stderr)
    print(exc.tail or "(empty)", file=sys.stderr)


def reset_outputs(workdir: Path, outputs: Sequence[str]) -> None:
    """Remove a run's outputs, then flush: no run may pay for writing back another's data.

    Outputs are removed right after each run, before their dirty pages reach the disk, so the
    1 GiB file of one tool is never flushed while another tool is being timed.
    """
    for rel in outputs:
        path = workdir / rel
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    os.sync()


# -- measuring -------------------------------------------------------------------------------


@dataclass
class Result:
    workload: Workload
    times: dict[str, list[float]]
    failed: dict[str, str]  # tool name -> reason


def run_workload(
    workload: Workload, tools: Sequence[Tool], rounds: int, compared_rounds: int
) -> Result:
    result = Result(workload, {t.name: [] for t in tools}, {})
    for tool in tools:
        if tool.unavailable is not None:
            result.failed[tool.name] = tool.unavailable
    if workload.skipped is not None:
        return result

    def once(tool: Tool, timed: bool) -> None:
        if tool.name in result.failed:
            return
        if workload.prepare is not None:
            workload.prepare(tool.workdir)
        reset_outputs(tool.workdir, workload.outputs)
        argv = tool.wrap(tool.workdir, workload.argv, workload.outputs)
        try:
            elapsed = _call(argv, tool.workdir, tool.env, RUN_TIMEOUT_S)
        except ToolFailed as exc:
            if not tool.peer:
                raise BenchError(
                    f"{workload.title}: {tool.name} run failed ({exc.reason}): {exc.tail}"
                ) from None
            _report_peer_failure(tool.name, workload.title, exc)
            result.failed[tool.name] = exc.reason
            return
        finally:
            reset_outputs(tool.workdir, workload.outputs)
        if timed:
            result.times[tool.name].append(elapsed)

    for tool in tools:  # warm-up: page cache, bytecode, roar's hash cache, first-touch memory
        once(tool, timed=False)
    for round_no in range(rounds):
        present = [t for t in tools if t.judged or round_no < compared_rounds]
        shift = round_no % len(present)  # rotate the order so drift hits every tool alike
        for tool in [*present[shift:], *present[:shift]]:
            once(tool, timed=True)
    roar = next(t for t in tools if t.name == "roar")
    if workload.check is not None:
        workload.check(roar.workdir)
    return result


# -- report ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    cells: tuple[str, ...]
    passed: bool | None  # None: no verdict (workload skipped)
    beyond_reach: str | None = None  # why hashing after the command cannot meet the target


def _show(workload: Workload, extra: float) -> str:
    """An overhead as the table shows it: a ratio, or seconds over bare."""
    return f"{extra:.2f}x" if workload.ratio else f"{extra:+.3f} s"


def _paired(workload: Workload, bare: Sequence[float], tool: Sequence[float]) -> float:
    """A tool's overhead: the median, over rounds, of its run against the bare run of the
    same round (its ratio, or the seconds it adds). A round's runs follow each other, so a
    machine that drifts during the benchmark (a disk that slows down, a noisy neighbour)
    moves both runs of a pair alike; medians taken apart would each catch it differently.
    A tool that ran in the first rounds only is paired with the bare runs of those rounds.
    With more runs than bare (never in a benchmark run), the medians are compared."""
    if len(tool) > len(bare):
        tool_median, bare_median = statistics.median(tool), statistics.median(bare)
        return tool_median / bare_median if workload.ratio else tool_median - bare_median
    paired = zip(tool, bare[: len(tool)], strict=True)
    if workload.ratio:
        return statistics.median(t / b for t, b in paired)
    return statistics.median(t - b for t, b in paired)


def _peer_share(workload: Workload, extras: Mapping[str, float]) -> str:
    """roar's overhead as a share of ReproZip's, measured side by side, next to the share
    the issue's target allows against ReproZip's reference numbers. Machines differ in
    speed by factors (a slow day doubles every time in the table); this share does not."""
    reference = workload.reprozip_reference
    roar, reprozip = extras.get("roar"), extras.get(REPROZIP_NAME)
    if reference is None or roar is None or reprozip is None:
        return "n/a"
    if workload.target is None:
        return "n/a"
    allowed = (
        (workload.target - 1) / (reference - 1) if workload.ratio else (workload.target / reference)
    )
    peer = reprozip - 1 if workload.ratio else reprozip
    if peer <= 0:
        return "n/a"
    share = (roar - 1 if workload.ratio else roar) / peer
    return f"{share:.2f} (<= {allowed:.2f}: {'ok' if share <= allowed else 'over'})"


def make_row(result: Result, tools: Sequence[Tool]) -> Row:
    workload = result.workload
    if workload.target is None:
        target = "none"
    elif workload.ratio:
        target = f"<= {workload.target:g}x"
    else:
        target = f"<= +{workload.target:g} s"
    if workload.skipped is not None:
        cells = [f"n/a ({workload.skipped})"] * len(tools)
        return Row((workload.title, *cells, target, "SKIP", "n/a"), None)
    bare_times = result.times["bare"]
    cells = [f"{statistics.median(bare_times):.3f} s"]
    passed: bool | None = None
    extras: dict[str, float] = {}
    for tool in tools[1:]:
        if tool.name in result.failed:
            cells.append(f"n/a ({result.failed[tool.name]})")
            continue
        extra = extras[tool.name] = _paired(workload, bare_times, result.times[tool.name])
        cells.append(_show(workload, extra))
        if tool.name == "roar" and workload.target is not None:
            passed = extra <= workload.target
    verdict = "info" if workload.target is None else "PASS" if passed else "FAIL"
    return Row(
        (workload.title, *cells, target, verdict, _peer_share(workload, extras)),
        passed,
        _beyond_reach(workload, bare_times, result.times.get("floor", [])),
    )


def _beyond_reach(workload: Workload, bare: Sequence[float], floor: Sequence[float]) -> str | None:
    """A line when the floor (Python, the tracer, output hashing after the command, nothing
    else) misses the target even in its most favourable pairing, its fastest run against
    the slowest bare run: then no roar that hashes what the command wrote only after it
    ended meets the target on this machine (roar's tails hash while it writes). A noisy
    machine inflates medians; this bound it can only shrink."""
    if not floor or not bare or workload.target is None:
        return None
    fastest, slowest = min(floor), max(bare)
    measured = fastest / slowest if workload.ratio else fastest - slowest
    if measured <= workload.target:
        return None
    return (
        f"{workload.title}: even the floor's fastest run costs "
        f"{_show(workload, measured)} over the slowest bare run: here only hashing "
        f"while the command runs can meet the target"
    )


def render(rows: Sequence[Row], tools: Sequence[Tool]) -> str:
    header = (
        "workload",
        *(f"{t.name}" for t in tools),
        "target (roar)",
        "verdict",
        "roar/reprozip overhead (target's share)",
    )
    return format_table(header, [row.cells for row in rows])


# -- driver ----------------------------------------------------------------------------------


def workload_python() -> tuple[str, str | None]:
    """The python that runs the workloads, and why numpy/pandas are missing (or None)."""
    venv, error = ensure_venv("workload", WORKLOAD_REQUIREMENTS)
    python = venv / "bin" / "python"
    if error is None:
        return str(python), None
    if python.exists():
        return str(python), error
    return sys.executable, error


def run(sizes: Sizes, with_peers: bool, only: str = "") -> tuple[list[Row], list[Tool]]:
    python, numpy_missing = workload_python()
    path_env = dict(os.environ)
    path_env["PATH"] = f"{Path(python).parent}{os.pathsep}{path_env.get('PATH', '')}"
    # An editable roar is compiled from source on every start when bytecode may not be
    # written (PYTHONDONTWRITEBYTECODE=1 is common in containers), while a pip-installed
    # tool ships .pyc files: let every tool cache bytecode, outside the source tree.
    path_env.pop("PYTHONDONTWRITEBYTECODE", None)
    path_env["PYTHONPYCACHEPREFIX"] = str(VENV_DIR / "pycache")
    tools = make_tools(path_env, with_peers)
    scratch = Path(tempfile.mkdtemp(prefix="roar-bench-trace-", dir=scratch_parent()))
    try:
        template = scratch / "template"
        write_workload_files(template, sizes)
        for tool in tools:
            prepare_tool(tool, template, scratch)
        shutil.rmtree(template)
        cpu_loops = calibrate_cpu(python, tools[0].workdir, sizes.cpu_s)
        time.sleep(RACY_SLEEP_S)  # let the inputs age so roar may cache their hashes
        rows = []
        for workload in make_workloads(python, cpu_loops, sizes, numpy_missing, scratch):
            if only and workload.title[1] not in only:
                continue
            started = time.perf_counter()
            result = run_workload(workload, tools, sizes.rounds, sizes.compared_rounds)
            rows.append(make_row(result, tools))
            took = time.perf_counter() - started
            raw = "; ".join(
                f"{name} " + "/".join(f"{x:.2f}" for x in times)
                for name, times in result.times.items()
                if times
            )
            print(f"{workload.title}: {took:.0f} s; runs (s): {raw}", file=sys.stderr)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return rows, tools


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument(
        "--no-peers", action="store_true", help="only bare and roar (no reprozip, roar-cli)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        metavar="N",
        help="timed runs of bare, roar and floor per workload (15; quick: 1); the other tools"
        " run in the first 5 (or N, if fewer)",
    )
    parser.add_argument(
        "--only", default="", metavar="LETTERS", help="run only these workloads, e.g. `bf`"
    )
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.rounds is not None:
        if args.rounds < 1:
            parser.error("--rounds must be at least 1")
        sizes = replace(
            sizes, rounds=args.rounds, compared_rounds=min(args.rounds, FULL.compared_rounds)
        )
    try:
        rows, tools = run(sizes, with_peers=not args.no_peers, only=args.only)
    except BenchError as exc:
        print(f"benchmark error: {exc}", file=sys.stderr)
        return 2
    rounds = f"median of {sizes.rounds} run{'s' if sizes.rounds > 1 else ''}"
    if sizes.compared_rounds < sizes.rounds:
        rounds += f"; {sizes.compared_rounds} for the tools compared with, not judged"
    print(
        f"all-in wall time per run ({rounds}); bare in seconds, others as overhead over the"
        " bare run of the same round"
    )
    print(render(rows, tools))
    for row in rows:
        if row.beyond_reach is not None:
            print(f"hashing after the command is not enough here: {row.beyond_reach}")
    failed = [row.cells[0] for row in rows if row.passed is False]
    return finish(failed)


if __name__ == "__main__":
    sys.exit(main())
