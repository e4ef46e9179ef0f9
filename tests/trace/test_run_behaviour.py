"""`roar run` behaves like the command it wraps, and records what it ran with."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from roar.objects import ObjectStore
from tests.helpers import ROAR, git, run_roar
from tests.trace.conftest import PY, Workspace


def test_exit_code_and_stdio_pass_through(ws: Workspace) -> None:
    ws.script("echo.py", "import sys\nsys.stdout.write(sys.stdin.read().upper())\n"
              "sys.stderr.write('to stderr\\n')\nsys.exit(3)\n")  # fmt: skip
    proc = subprocess.run(
        [ROAR, "run", "-q", PY, "echo.py"],
        cwd=ws.root,
        input="hello",
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 3
    assert proc.stdout == "HELLO"
    assert proc.stderr == "to stderr\n"


def test_killed_by_signal_is_128_plus_n(ws: Workspace) -> None:
    result = run_roar("run", "sh", "-c", "kill -TERM $$", cwd=ws.root)
    assert result.code == 128 + signal.SIGTERM
    assert "interrupted by SIGTERM" in result.stderr


def test_missing_command_exits_127_with_one_line(ws: Workspace) -> None:
    result = run_roar("run", "no-such-program-xyz", "--flag", cwd=ws.root)
    assert result.code == 127
    assert result.stderr.strip() == (
        "roar: error: command not found: no-such-program-xyz (not on PATH)"
    )
    result = run_roar("run", "./missing.sh", cwd=ws.root)
    assert (result.code, "no such file" in result.stderr) == (127, True)


def test_options_after_the_command_belong_to_it(ws: Workspace) -> None:
    result = run_roar(
        "run", "-q", PY, "-c", "import sys; print(sys.argv[1:])", "--name", "x", cwd=ws.root
    )
    assert result.stdout.strip() == "['--name', 'x']"


def test_ctrl_c_reaches_the_child_and_the_job_is_recorded(ws: Workspace) -> None:
    ws.script(
        "slow.py",
        """
        import time
        try:
            # Inside the try: Ctrl-C may come as soon as "started" exists on disk.
            open("started", "w").write("1")
            time.sleep(60)
        except KeyboardInterrupt:
            open("interrupted.txt", "w").write("bye")
            raise
        """,
    )
    proc = subprocess.Popen(
        [ROAR, "run", PY, "slow.py"],
        cwd=ws.root,
        start_new_session=True,  # a process group of its own, like a terminal job
        # A foreground job of an interactive shell gets Ctrl-C. The suite itself may run
        # where SIGINT is ignored (a background job of a script, `nohup ... &`), which
        # every child would inherit: then neither roar nor the command could be stopped so.
        preexec_fn=_sigint_as_in_a_terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not (ws.root / "started").exists():
        assert time.monotonic() < deadline, "the child never started"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        state = _group_state(proc.pid)  # what each process and thread waits in
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"roar run did not end after Ctrl-C; its process group:\n{state}")
    assert proc.returncode == 130
    assert "interrupted by SIGINT" in err
    with ws.project.open_store() as store:
        job = store.list_jobs(limit=1)[0]
        outputs = {ref.path for ref in store.job_outputs(job.id)}
    assert (job.exit_code, job.notes) == (130, "interrupted by SIGINT")
    assert (ws.root / "interrupted.txt").read_text() == "bye"  # the child's handler ran
    assert "interrupted.txt" in outputs  # and the trace heard what it wrote


def _sigint_as_in_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _group_state(pgid: int) -> str:
    """Every process of group `pgid` and what each of its threads waits in (wchan)."""
    lines = []
    for pid in sorted(int(p) for p in os.listdir("/proc") if p.isdigit()):
        try:
            if os.getpgid(pid) != pgid:
                continue
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            threads = []
            for tid in sorted(os.listdir(f"/proc/{pid}/task")):
                comm = Path(f"/proc/{pid}/task/{tid}/comm").read_text().strip()
                wchan = Path(f"/proc/{pid}/task/{tid}/wchan").read_text().strip()
                threads.append(f"{tid}:{comm}:{wchan or '-'}")
            lines.append(f"{pid} {command.strip()} [{', '.join(threads)}]")
        except OSError:
            continue
    return "\n".join(lines) or "(no process left)"


def test_sigterm_to_roar_is_forwarded(ws: Workspace) -> None:
    ws.script("wait.py", "import time\nopen('started', 'w').write('1')\ntime.sleep(60)\n")
    proc = subprocess.Popen(
        [ROAR, "run", PY, "wait.py"], cwd=ws.root, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 30
    while not (ws.root / "started").exists():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)  # to roar alone
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM
    assert "interrupted by SIGTERM" in err


def test_a_job_that_touched_nothing_says_so(ws: Workspace) -> None:
    result = run_roar("run", "true", cwd=ws.root)
    assert result.code == 0
    assert "read and wrote no files that roar records (tracer: seccomp)" in result.stderr


def test_report_lists_written_files_and_quiet_silences_it(ws: Workspace) -> None:
    loud = run_roar("run", "sh", "-c", "echo 1 > out.txt", cwd=ws.root)
    assert "recorded run @1" in loud.stderr
    assert "wrote " in loud.stderr
    assert "out.txt" in loud.stderr
    quiet = run_roar("run", "-q", "sh", "-c", "echo 2 > out.txt", cwd=ws.root)
    assert quiet.stderr == ""
    ws.project.config_path.write_text("[output]\nquiet = true\n")
    assert run_roar("run", "sh", "-c", "echo 3 > out.txt", cwd=ws.root).stderr == ""


def test_outside_a_project(tmp_path: Path) -> None:
    result = run_roar("run", "true", cwd=tmp_path)
    assert result.code == 3
    assert "run `roar init`" in result.stderr


def test_job_fields(ws: Workspace) -> None:
    ws.write("in.txt", "x")
    secrets = {"MY_API_TOKEN": "s3cret", "DB_URL": "postgresql://u:pw@h/db"}
    traced = ws.trace([PY, "-c", "open('out.txt', 'w').write(open('in.txt').read())"], env=secrets)
    job = traced.outcome.job
    assert job.kind == "run"
    assert job.command[1:] == ("-c", "open('out.txt', 'w').write(open('in.txt').read())")
    assert job.cwd == "."
    assert job.exit_code == 0
    assert job.started_at <= job.ended_at  # type: ignore[operator]
    assert job.git_commit == git("rev-parse", "HEAD", cwd=ws.root).strip()
    assert job.git_branch == "main"
    assert job.trace_coverage == "full"
    assert job.host["cpu_count"] == os.cpu_count()
    assert job.host["gpus"] == [] or all("name" in g for g in job.host["gpus"])
    variables = job.env["variables"]
    assert variables["MY_API_TOKEN"] == "<redacted>"
    assert variables["DB_URL"] == "postgresql://u:***@h/db"
    assert "s3cret" not in json.dumps(job.env)


def test_step_name_and_build_kind(ws: Workspace) -> None:
    ws.script("prepare.py", "print('x')\n")
    assert ws.trace([PY, "prepare.py"]).outcome.job.step == "prepare"
    result = run_roar("build", "-n", "compile", "sh", "-c", "echo bin > tool", cwd=ws.root)
    assert result.code == 0
    with ws.project.open_store() as store:
        job = store.list_jobs(limit=1)[0]
    assert (job.kind, job.step) == ("build", "compile")


def test_dirty_tree_patch_is_stored(ws: Workspace) -> None:
    (ws.root / "train.py").write_text("print('changed')\n")  # tracked in the fixture repo
    traced = ws.trace([PY, "train.py"])
    job = traced.outcome.job
    assert job.git_dirty is True
    assert job.patch_hash is not None
    patch = ObjectStore(ws.project.objects_dir).get_bytes(job.patch_hash)
    assert b"+print('changed')" in patch
    assert "train.py" not in traced.inputs  # tracked source is captured by commit + patch


def test_stdlib_only_job_records_no_third_party_package(ws: Workspace) -> None:
    traced = ws.python("import json, csv, sqlite3\nprint(json.dumps([1]))\n")
    assert traced.outcome.job.env["packages"] == {}
    assert traced.outcome.job.env["python_versions"] == [
        f"{sys.version_info[0]}.{sys.version_info[1]}"
    ]


def test_numpy_job_records_numpy_and_its_version(ws: Workspace) -> None:
    numpy = pytest.importorskip("numpy")  # a dev dependency: present under `make test`
    traced = ws.python("import numpy\nnumpy.save('arr.npy', numpy.arange(3))\n")
    packages = traced.outcome.job.env["packages"]
    assert packages.get("numpy") == numpy.__version__
    assert "roar" not in {name.lower() for name in packages}
    assert traced.outputs == {"arr.npy"}


def test_tracer_check(ws: Workspace) -> None:
    result = run_roar("tracer", "check", cwd=ws.root)
    assert result.code == 0
    assert "auto uses: seccomp" in result.stdout


def _path_without_strace(tmp_path: Path) -> str:
    """A PATH with the usual tools but no strace, to stand for a machine without it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sh", "cat", "true", "git", "env"):
        found = subprocess.run(["which", tool], capture_output=True, text=True, check=True)
        (bin_dir / tool).symlink_to(found.stdout.strip())
    return f"{bin_dir}:{Path(sys.executable).parent}"


def test_without_strace_auto_falls_back_and_strace_refuses(ws: Workspace, tmp_path: Path) -> None:
    env = {"PATH": _path_without_strace(tmp_path)}
    ws.write("in.txt", "x")
    ws.script("copy.py", "open('out.txt', 'w').write(open('in.txt').read())\n")
    refused = run_roar("run", "--tracer", "strace", PY, "copy.py", cwd=ws.root, env=env)
    assert refused.code == 7
    assert "strace is not installed" in refused.stderr
    assert not (ws.root / "out.txt").exists()

    seccomp = run_roar("run", PY, "copy.py", cwd=ws.root, env=env)
    assert seccomp.code == 0, seccomp.stderr
    assert "falling back" not in seccomp.stderr  # seccomp needs no strace
    assert run_roar("tracer", "check", cwd=ws.root, env=env).stdout.endswith("auto uses: seccomp\n")

    # Inside a job that already has a seccomp listener, with no strace either: only the
    # Python hook is left, and both `roar run` and `roar tracer check` say so.
    ws.script(
        "nested.sh",
        f"""
        {ROAR} run {PY} copy.py
        {ROAR} tracer check
        """,
    )
    nested = run_roar("run", "--tracer", "seccomp", "sh", "nested.sh", cwd=ws.root, env=env)
    assert nested.code == 0, nested.stderr
    assert "already runs under a seccomp listener (roar inside roar?); used python" in (
        nested.stderr
    )
    assert "auto uses: python" in nested.stdout


def test_track_repo_files_records_tracked_source(ws: Workspace) -> None:
    assert "train.py" not in ws.trace([PY, "train.py"]).inputs
    ws.project.config_path.write_text("[output]\ntrack_repo_files = true\n")
    assert "train.py" in ws.trace([PY, "train.py"]).inputs
