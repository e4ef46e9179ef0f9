"""`roar registry` against GTO on repositories of 550, 2,750 and 11,000 registry tags.

Issue targets: every read <= 0.3 s at 11,000 tags (interpreter start included); register
and assign <= 0.3 s at 2,750 tags. GTO spends ~1.1 ms per tag on every command.

Each repository is made with plain `git tag -a` (GTO's tag names and messages, one tagger
second per tag so both tools must agree on the order): per artifact 44 versions on 44
commits, each assigned to dev, every fourth also to prod and then out of dev, so 110 tags
per artifact and 5, 25 and 100 artifacts, one fresh repository per size.

roar's reads are timed twice: as `git tag` leaves the repository (every tag a loose object
and a loose ref) and after `git gc` (packed, as any clone or long-lived repository is). The
targets are judged on the packed repository, where GTO is timed too: with 11,000 loose
tag objects git itself needs about half a second just to list them, which the
`git for-each-ref` row shows (the listing roar's `show` asks for). Before timing, roar's
`show --json` must equal GTO's: a wrong answer exits 2.

Run: `.venv/bin/python bench/registry.py [--quick] [--no-gto]`. GTO installs into
bench/.venvs/gto on first use. Exit 0 when every target is met, 1 when not.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

# bench/trace.py, not the stdlib's trace: a script's own directory comes first on sys.path
from trace import ensure_venv

from benchlib import finish, format_table, scratch_parent

ROAR = str(Path(sys.executable).with_name("roar"))
ROAR_SRC = Path(__file__).resolve().parents[1] / "src"
GTO_REQUIREMENT = "gto>=1.7,<2"
READ_TARGET_S = 0.3
WRITE_TARGET_S = 0.3
TAGS_PER_ARTIFACT = 110
VERSIONS = 44
START = 1_900_000_000
ENV = {
    **os.environ,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@roar.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@roar.invalid",
    "GTO_EMOJIS": "false",
}


class WrongAnswer(Exception):
    """roar and GTO disagree about the registry."""


def git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, env=env or ENV, check=True, capture_output=True, text=True
    ).stdout


class Repo:
    """One repository that grows to each size in turn."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.artifacts = 0
        self.clock = START
        root.mkdir()
        git(root, "init", "-q", "-b", "main")
        for k in range(VERSIONS):
            (root / "f").write_text(f"{k}\n")
            git(root, "add", "f")
            git(root, "commit", "-qm", f"c{k}")
        self.commits = git(root, "rev-list", "--reverse", "HEAD").split()

    def _tag(self, name: str, commit: str, message: str) -> None:
        self.clock += 1
        env = {**ENV, "GIT_COMMITTER_DATE": f"@{self.clock} +0000"}
        git(self.root, "tag", "-a", name, "-m", message, commit, env=env)

    def grow_to(self, tags: int) -> None:
        while self.artifacts * TAGS_PER_ARTIFACT < tags:
            self._artifact(f"a{self.artifacts}")
            self.artifacts += 1

    def _artifact(self, name: str) -> None:
        counter = 0
        for v in range(1, VERSIONS + 1):
            version, commit = f"v1.0.{v}", self.commits[v - 1]
            self._tag(f"{name}@{version}", commit, f"Registering artifact {name} version {version}")
            events = [("dev", "")] + ([("prod", ""), ("dev", "!")] if v % 4 == 0 else [])
            for stage, cancel in events:
                counter += 1
                verb = "Unassigning" if cancel else "Assigning"
                message = f"{verb} stage {stage} to artifact {name} version {version}"
                self._tag(f"{name}#{stage}{cancel}#{counter}", commit, message)


def timed(argv: Sequence[str], cwd: Path, runs: int) -> tuple[float, str]:
    """Median seconds of `runs` runs (after one warm-up when runs > 1), and the output."""
    times, out = [], ""
    for index in range(runs + (1 if runs > 1 else 0)):
        start = time.perf_counter()
        proc = subprocess.run(list(argv), cwd=cwd, env=ENV, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed: {proc.stderr.strip()[-500:]}")
        if runs == 1 or index > 0:
            times.append(elapsed)
        out = proc.stdout
    return statistics.median(times), out


GIT_LIST = [
    "git",
    "for-each-ref",
    "--format=%(refname:strip=2)%00%(objecttype)%00%(*objecttype)%00%(*objectname)%00"
    "%(objectname)%00%(taggerdate:unix)%00",
    "refs/tags",
]


def reads(tool: str) -> list[tuple[str, list[str]]]:
    """(label, argv) for each read, in the tool's own words; GTO has no latest/which."""
    last_assign = f"a0#prod#{VERSIONS + 2 * (VERSIONS // 4) - 1}"
    if tool == "roar":
        base = [ROAR, "registry"]
        return [
            ("show --json", [*base, "show", "--json"]),
            ("show NAME", [*base, "show", "a0"]),
            ("history NAME", [*base, "history", "a0"]),
            ("latest", [*base, "latest", "a0"]),
            ("which", [*base, "which", "a0", "prod"]),
            ("check-ref", [*base, "check-ref", last_assign, "--json"]),
        ]
    return [
        ("show --json", [tool, "show", "--json"]),
        ("show NAME", [tool, "show", "a0"]),
        ("history NAME", [tool, "history", "a0"]),
        ("latest", [tool, "show", "a0@latest"]),
        ("which", [tool, "show", "a0#prod"]),
        ("check-ref", [tool, "check-ref", last_assign, "--json"]),
    ]


def time_writes(repo: Repo, tool: str, runs: int) -> dict[str, float]:
    """register (on a new commit) and assign, each tag deleted again after timing."""
    root = repo.root
    results: dict[str, list[float]] = {"register": [], "assign": []}
    for _ in range(runs):
        git(root, "commit", "-q", "--allow-empty", "-m", "new model")
        argv = [ROAR, "registry", "register", "a0"] if tool == "roar" else [tool, "register", "a0"]
        results["register"].append(timed(argv, root, 1)[0])
        git(root, "tag", "-d", f"a0@v1.0.{VERSIONS + 1}")
        git(root, "reset", "-q", "--hard", "HEAD~1")
        if tool == "roar":
            argv = [ROAR, "registry", "assign", "a0", "qa", "--version", "v1.0.1"]
        else:
            argv = [tool, "assign", "a0", "--stage", "qa", "--version", "v1.0.1"]
        results["assign"].append(timed(argv, root, 1)[0])
        created = [t for t in git(root, "tag", "--list", "a0#qa#*").split()]
        git(root, "tag", "-d", *created)
    return {k: statistics.median(v) for k, v in results.items()}


def check_same(root: Path, gto: str | None) -> None:
    ours = json.loads(timed([ROAR, "registry", "show", "--json"], root, 1)[1])
    if gto is None:
        entry = ours.get("a0", {})
        if (
            entry.get("version") != f"v1.0.{VERSIONS}"
            or entry["stage"]["prod"] != f"v1.0.{VERSIONS}"
        ):
            raise WrongAnswer(f"roar shows {entry}")
        return
    theirs = json.loads(timed([gto, "show", "--json"], root, 1)[1])
    if ours != theirs:
        raise WrongAnswer("roar registry show --json differs from gto show --json")


def _rows(
    size: int,
    ours: dict[str, float],
    loose: dict[str, float],
    theirs: dict[str, float],
    quick: bool,
    failed: list[str],
) -> list[list[str]]:
    rows = []
    for label, seconds in ours.items():
        write = label in ("register", "assign")
        limit = WRITE_TARGET_S if write else READ_TARGET_S
        judged = quick or (size == 2750 if write else size >= 11000)
        checked = label != "git for-each-ref" and judged
        verdict = "-"
        if checked:
            verdict = "PASS" if seconds <= limit else "FAIL"
            if verdict == "FAIL":
                failed.append(f"{label} at {size:,} tags: {seconds:.3f} s > {limit} s")
        peer = theirs.get(label)
        rows.append(
            [
                label,
                f"{size:,}",
                f"{seconds:.3f} s",
                f"{peer:.2f} s" if peer is not None else "-",
                f"{peer / seconds:.0f}x" if peer is not None else "-",
                f"{loose[label]:.3f} s" if label in loose else "-",
                f"<= {limit} s" if checked else "-",
                verdict,
            ]
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="550 tags, one run each")
    parser.add_argument("--no-gto", action="store_true", help="roar alone (no install)")
    args = parser.parse_args()
    sizes = [550] if args.quick else [550, 2750, 11000]
    runs = 1 if args.quick else 5
    gto: str | None = None
    if not args.no_gto:
        venv, why = ensure_venv("gto", [GTO_REQUIREMENT])
        if why:
            print(f"gto unavailable ({why}); measuring roar alone", file=sys.stderr)
        else:
            gto = str(venv / "bin" / "gto")
    # Bytecode as an install leaves it (`make` runs compileall too): with
    # PYTHONDONTWRITEBYTECODE set, edited modules would otherwise compile on every call.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROAR_SRC)], check=True)
    scratch = Path(tempfile.mkdtemp(prefix="roar-bench-registry-", dir=scratch_parent()))
    rows: list[list[str]] = []
    failed: list[str] = []
    try:
        for size in sizes:
            repo = Repo(scratch / f"repo{size}")
            repo.grow_to(size)
            loose = {label: timed(argv, repo.root, runs)[0] for label, argv in reads("roar")}
            loose["git for-each-ref"] = timed(GIT_LIST, repo.root, runs)[0]
            git(repo.root, "gc", "--quiet")
            try:
                check_same(repo.root, gto)
            except WrongAnswer as exc:
                print(f"wrong: {exc} at {size:,} tags", file=sys.stderr)
                return 2
            ours = {label: timed(argv, repo.root, runs)[0] for label, argv in reads("roar")}
            ours["git for-each-ref"] = timed(GIT_LIST, repo.root, runs)[0]
            theirs = {}
            if gto is not None:
                theirs = {label: timed(argv, repo.root, 1)[0] for label, argv in reads(gto)}
            ours.update(time_writes(repo, "roar", runs))
            if gto is not None:
                theirs.update(time_writes(repo, gto, 1))
            rows += _rows(size, ours, loose, theirs, args.quick, failed)
            shutil.rmtree(repo.root, ignore_errors=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    header = ["command", "tags", "roar", "gto", "gto/roar", "roar, loose tags", "target", "verdict"]
    print(format_table(header, rows))
    print(
        f"\nroar: median of {runs} runs; gto ({GTO_REQUIREMENT}): one run, on the same packed "
        "repository. GTO has no latest/which: `gto show NAME@latest` and `gto show "
        "NAME#STAGE` stand in. Writes create a tag and delete it again."
    )
    return finish(failed)


if __name__ == "__main__":
    sys.exit(main())
