"""`roar run`/`roar build` parse without click when the call is plain, and behave exactly
as the click commands do; anything unusual goes to click."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from roar.cli.fast import FastRun, parse_fast_run
from tests.helpers import run_roar


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run", "true"], FastRun("run", ("true",))),
        (["build", "make", "-j2"], FastRun("build", ("make", "-j2"))),
        (
            ["run", "-q", "--tracer", "strace", "-n", "prep", "python", "p.py", "-q"],
            FastRun("run", ("python", "p.py", "-q"), "prep", "strace", quiet=True),
        ),
        (
            ["run", "--tracer=seccomp", "--name=x", "--no-collect-sources", "ls"],
            FastRun("run", ("ls",), "x", "seccomp", collect_sources=False),
        ),
        (
            [
                "-C",
                "sub",
                "-c",
                "output.quiet=true",
                "--traceback",
                "run",
                "--collect-sources",
                "ls",
            ],
            FastRun("run", ("ls",), None, "auto", False, True, "sub", ("output.quiet=true",), True),
        ),  # fmt: skip
    ],
)
def test_plain_calls_take_the_fast_path(args: list[str], expected: FastRun) -> None:
    assert parse_fast_run(args) == expected


@pytest.mark.parametrize(
    "args",
    [
        ["run"],  # no command: click's usage error
        ["run", "--help"],
        ["run", "-qn", "x", "true"],  # combined short options
        ["run", "--", "true"],
        ["run", "--tracer", "nope", "true"],
        ["run", "--tracer"],
        ["run", "--bogus", "true"],
        ["--version"],
        ["log"],
        ["-C"],
        ["--set", "a=b", "run", "true"],
    ],
)
def test_anything_unusual_goes_to_click(args: list[str]) -> None:
    assert parse_fast_run(args) is None


def test_the_fast_path_never_imports_click_or_dataclasses(project: Path) -> None:
    """click costs 30-40 ms to import; `dataclasses` 15-20 ms (it brings inspect and ast),
    and every dataclass 1.5-3 ms more to build; shutil and tempfile 4 ms each; subprocess
    (with locale and selectors) 4 ms; typing 4-5 ms; hashlib (OpenSSL) 4-5 ms; the sqlite3
    package over its C module (with datetime) 3-4 ms; signal (its enums) 1-2 ms. A run that
    reads, writes and records files loads none of them (once roar has run in the project:
    the first run probes the tracer)."""
    assert run_roar("run", "-q", "true", cwd=project).code == 0
    probe = (
        "import atexit, sys\n"
        "heavy = ('click', 'dataclasses', 'inspect', 'shutil', 'tempfile', 'subprocess',\n"
        "         'typing', 'hashlib', 'sqlite3', 'datetime', 'signal')\n"
        "atexit.register(lambda: print([m for m in heavy if m in sys.modules], file=sys.stderr))\n"
        "from roar.cli.entry import main\n"
        "main(['run', '-q', 'sh', '-c', 'cat in.txt > out.txt'])\n"
    )
    (project / "in.txt").write_text("x\n")
    proc = subprocess.run(
        [sys.executable, "-c", probe], cwd=project, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert (project / "out.txt").read_text() == "x\n"
    assert proc.stderr.strip().splitlines()[-1] == "[]"


def _normalized(text: str) -> str:
    text = re.sub(r"@\d+ \([0-9a-f]+\)", "@N (UID)", text)
    return re.sub(r"in \d+\.\d+ s", "in T s", text)


def test_both_paths_record_and_report_the_same(project: Path) -> None:
    script = "open('out.txt', 'w').write('x'); import sys; sys.exit(3)"
    fast = run_roar("run", "-n", "step", sys.executable, "-c", script, cwd=project)
    slow = run_roar("run", "-n", "step", "--", sys.executable, "-c", script, cwd=project)
    assert fast.code == slow.code == 3
    assert _normalized(fast.stderr) == _normalized(slow.stderr)
    assert "wrote" in fast.stderr
    log = json.loads(run_roar("log", "--json", cwd=project).stdout)
    assert [(j["step"], j["exit_code"], j["outputs"]) for j in log] == [("step", 3, 1)] * 2


def test_both_paths_fail_the_same_outside_a_project(tmp_path: Path) -> None:
    fast = run_roar("run", "true", cwd=tmp_path)
    slow = run_roar("run", "--", "true", cwd=tmp_path)
    assert fast.code == slow.code == 3
    assert fast.stderr == slow.stderr
    assert fast.stderr.startswith("roar: error: ")
    assert fast.stderr.count("\n") == 1


def _as_console_script(
    project: Path, before: str, *command: str
) -> subprocess.CompletedProcess[str]:
    """`roar run -q COMMAND` through main() with no arguments, as the console script calls
    it (the path that ends the process without the interpreter's teardown)."""
    probe = (
        "import sys\n"
        f"{before}\n"
        f"sys.argv = ['roar', 'run', '-q', *{list(command)!r}]\n"
        "from roar.cli.entry import main\n"
        "main()\n"
    )
    return subprocess.run(
        [sys.executable, "-c", probe], cwd=project, capture_output=True, text=True, check=False
    )


def test_the_script_keeps_the_exit_code_and_runs_atexit_handlers(project: Path) -> None:
    handler = "import atexit; atexit.register(print, 'atexit ran', file=sys.stderr)"
    proc = _as_console_script(project, handler, "sh", "-c", "echo out; exit 7")
    assert proc.returncode == 7
    assert proc.stdout == "out\n"
    assert proc.stderr.strip().splitlines()[-1] == "atexit ran"


def test_the_script_waits_for_a_live_non_daemon_thread(project: Path) -> None:
    """A thread the interpreter would wait for is waited for: the fast exit is skipped."""
    thread = (
        "import threading, time, pathlib\n"
        "threading.Thread(target=lambda: (time.sleep(0.5),"
        " pathlib.Path('late.txt').write_text('done')), daemon=False).start()"
    )
    proc = _as_console_script(project, thread, "true")
    assert proc.returncode == 0, proc.stderr
    assert (project / "late.txt").read_text() == "done"
