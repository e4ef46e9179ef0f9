"""`roar run` starts its command before roar has loaded, behind the seccomp tracer's gate:
the command reads freely and makes new files once roar has read the git state, but every
change to a file that exists waits until roar has also opened its store, and a run roar
cannot record ends before it changed any file that existed."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from roar.trace.probe_cache import PROBE_FILE, cached_probes, probe_key
from roar.trace.seccomp_filter import build_filter, native_arch
from roar.trace.seccomp_tracer import RunningTrace, SeccompTracer
from tests.helpers import ROAR, run_roar
from tests.trace.conftest import PY, Workspace
from tests.trace.test_seccomp_tracer import _ALLOW, _NOTIFY, _run_filter

Start = Callable[[str], tuple[RunningTrace, list[str]]]
_CHANGES = ("unlink", "unlinkat", "rmdir", "mkdir", "mkdirat", "chmod", "fchmodat", "mknodat")


@pytest.fixture
def c_loop() -> None:
    from roar.trace import seccomp_tracer

    if seccomp_tracer._native is None:
        pytest.skip("no C compiler or Python headers: roar installed without its C loop")


def test_the_change_calls_are_heard_only_for_a_gate() -> None:
    from roar.trace.seccomp_tracer import native_table

    arch = native_arch()
    assert arch is not None
    gated, _ = build_filter(arch, cwd_calls=True, change_calls=True)
    plain, _ = build_filter(arch, cwd_calls=True)
    for name in _CHANGES:
        if name in arch.change_numbers:
            assert _run_filter(gated, arch.audit_arch, arch.change_numbers[name]) == _NOTIFY
            assert _run_filter(plain, arch.audit_arch, arch.change_numbers[name]) == _ALLOW
    table = native_table({}, (), arch.change_numbers)
    for name, number in arch.change_numbers.items():
        kind = 9 if name in ("mkdir", "mkdirat", "mknod", "mknodat") else 7  # 9: makes a name
        assert table[6 * number : 6 * number + 6] == bytes([255] * 5 + [kind])  # heard, no path


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def started(ws: Workspace, c_loop: None) -> Iterator[Start]:
    """Start `sh -c SCRIPT` gated in the workspace; (the running trace, paths read so far)."""
    runs: list[RunningTrace] = []

    def start(script: str) -> tuple[RunningTrace, list[str]]:
        reads: list[str] = []
        running = SeccompTracer().start(
            ["sh", "-c", script], cwd=str(ws.root), env=dict(os.environ), gated=True
        )
        running.attach(lambda r, _w, _f: reads.extend(r))
        runs.append(running)
        return running, reads

    yield start
    for running in runs:
        running.abort()


#: (files before, script, what must hold before the gate opens and fail to after)
_HELD = {
    "open for writing": ("echo x > new.txt", lambda root: not (root / "new.txt").exists()),
    "append": ("echo x >> kept.txt", lambda root: (root / "kept.txt").read_text() == "kept\n"),
    "rename": ("mv kept.txt moved.txt", lambda root: (root / "kept.txt").exists()),
    "unlink": ("rm kept.txt", lambda root: (root / "kept.txt").exists()),
    "rmdir": ("rmdir empty", lambda root: (root / "empty").is_dir()),
    "mkdir": ("mkdir made", lambda root: not (root / "made").exists()),
    "chmod": ("chmod +x kept.txt", lambda root: not (root / "kept.txt").stat().st_mode & 0o100),
    "symlink": ("ln -s kept.txt link", lambda root: not (root / "link").is_symlink()),
    "hard link": ("ln kept.txt hard", lambda root: not (root / "hard").exists()),
    "truncate": ("truncate -s 0 kept.txt", lambda root: (root / "kept.txt").stat().st_size > 0),
}


@pytest.mark.parametrize("change", sorted(_HELD))
def test_a_closed_gate_holds_every_change_to_a_file(
    ws: Workspace, started: Start, change: str
) -> None:
    ws.write("in.txt")
    ws.write("kept.txt", "kept\n")
    (ws.root / "empty").mkdir()
    script, unchanged = _HELD[change]
    running, reads = started(f"cat in.txt > /dev/null; {script}")
    _wait_for(lambda: str(ws.root / "in.txt") in reads, "the command to read in.txt")
    time.sleep(0.2)  # time enough for the change, were it not held
    assert unchanged(ws.root)
    assert running.proc.poll() is None
    running.open_gate()
    result = running.finish()
    assert result.exit_code == 0
    assert not unchanged(ws.root)


#: Calls that only make a new name (script), and a check that they happened.
_CREATES = {
    "open with O_CREAT": ("echo x > new.txt", lambda root: (root / "new.txt").exists()),
    "symlink": ("ln -s kept.txt link", lambda root: (root / "link").is_symlink()),
    "hard link": ("ln kept.txt hard", lambda root: (root / "hard").exists()),
    # mkdir and mknod make a name or fail: `os.makedirs(out)` before a model is saved
    "mkdir": ("mkdir made", lambda root: (root / "made").is_dir()),
    "a file in a new directory": (
        "mkdir -p made/deep && echo x > made/deep/out.txt",
        lambda root: (root / "made" / "deep" / "out.txt").exists(),
    ),
    "mknod (a FIFO)": ("mkfifo fifo", lambda root: (root / "fifo").exists()),
}
#: Calls that change a file that exists, held after open_creates as before.
_STILL_HELD = ("append", "rename", "unlink", "truncate", "chmod", "rmdir")


@pytest.mark.parametrize("create", sorted(_CREATES))
def test_a_gate_open_to_creations_lets_new_names_through_and_holds_the_rest(
    ws: Workspace, started: Start, create: str
) -> None:
    ws.write("in.txt")
    ws.write("kept.txt", "kept\n")
    script, made = _CREATES[create]
    running, reads = started(f"cat in.txt > /dev/null; {script}; echo x >> kept.txt")
    _wait_for(lambda: str(ws.root / "in.txt") in reads, "the command to read in.txt")
    time.sleep(0.2)
    assert not made(ws.root)  # closed: even a new name waits for the git state
    running.open_creates()
    _wait_for(lambda: made(ws.root), f"the {create} to go through")
    time.sleep(0.2)  # time enough for the append, were it not held
    assert (ws.root / "kept.txt").read_text() == "kept\n"
    assert running.proc.poll() is None
    running.open_gate()
    assert running.finish().exit_code == 0
    assert (ws.root / "kept.txt").read_text() == "kept\nx\n"


@pytest.mark.parametrize("change", _STILL_HELD)
def test_changes_to_existing_files_wait_for_the_whole_gate(
    ws: Workspace, started: Start, change: str
) -> None:
    ws.write("in.txt")
    ws.write("kept.txt", "kept\n")
    (ws.root / "empty").mkdir()
    script, unchanged = _HELD[change]
    running, reads = started(f"cat in.txt > /dev/null; {script}")
    _wait_for(lambda: str(ws.root / "in.txt") in reads, "the command to read in.txt")
    running.open_creates()
    time.sleep(0.2)
    assert unchanged(ws.root)
    running.open_gate()
    assert running.finish().exit_code == 0
    assert not unchanged(ws.root)


def test_an_open_with_o_creat_of_an_existing_file_is_no_creation(
    ws: Workspace, started: Start
) -> None:
    ws.write("in.txt")
    ws.write("kept.txt", "kept\n")
    ws.write("other.txt", "other\n")
    os.symlink("missing-target", ws.root / "dangling")
    # truncating an existing file, and creating through a dangling link, both wait
    running, reads = started("cat in.txt > /dev/null; echo x > kept.txt; echo y > dangling")
    _wait_for(lambda: str(ws.root / "in.txt") in reads, "the command to read in.txt")
    running.open_creates()
    time.sleep(0.2)
    assert (ws.root / "kept.txt").read_text() == "kept\n"
    assert not (ws.root / "missing-target").exists()
    running.abort()
    assert (ws.root / "kept.txt").read_text() == "kept\n"


def test_abort_after_creations_were_let_through_still_holds_the_rest(
    ws: Workspace, started: Start
) -> None:
    ws.write("in.txt")
    ws.write("victim.txt")
    running, reads = started("cat in.txt; echo x > new.txt; rm victim.txt; sleep 30")
    _wait_for(lambda: str(ws.root / "in.txt") in reads, "the command to read in.txt")
    running.open_creates()
    _wait_for(lambda: (ws.root / "new.txt").exists(), "the new file")
    running.abort()
    assert running.proc.returncode == -signal.SIGKILL
    time.sleep(0.2)
    assert (ws.root / "victim.txt").exists()


def test_reads_and_writes_to_devices_pass_a_closed_gate(ws: Workspace, started: Start) -> None:
    ws.write("in.txt")
    running, _reads = started("cat in.txt > /dev/null; echo done > /dev/null")
    _wait_for(lambda: running.proc.poll() is not None, "the command to end with the gate shut")
    assert running.finish().exit_code == 0


def test_abort_ends_the_command_before_it_changes_anything(ws: Workspace, started: Start) -> None:
    ws.write("in.txt")
    ws.write("victim.txt")
    # the subshell is a process of its own: it must end too, not fail and go on
    running, reads = started("cat in.txt; (rm victim.txt; echo x > out.txt); sleep 30")
    _wait_for(lambda: str(ws.root / "in.txt") in reads, "the command to read in.txt")
    time.sleep(0.1)
    started_at = time.monotonic()
    running.abort()
    assert time.monotonic() - started_at < 5
    assert running.proc.returncode == -signal.SIGKILL
    time.sleep(0.2)
    assert (ws.root / "victim.txt").exists()
    assert not (ws.root / "out.txt").exists()
    running.abort()  # a second time: nothing


# -- roar run ---------------------------------------------------------------------------


@pytest.fixture
def probed(ws: Workspace, c_loop: None) -> Workspace:
    """A project whose tracer probe is cached, as after its first `roar run`."""
    result = run_roar("run", "-q", "true", cwd=ws.root)
    assert result.code == 0, result.stderr
    assert (ws.root / ".roar" / PROBE_FILE).exists()
    return ws


def _run_in_process(
    root: Path, monkeypatch: pytest.MonkeyPatch, *argv: str, elsewhere: Path | None = None
) -> int:
    """`roar run -q ARGV` through the CLI's fast path, in the project (or, with
    `elsewhere`, from there with `-C PROJECT`)."""
    from roar.cli.fast import parse_fast_run, run_fast

    monkeypatch.chdir(elsewhere or root)
    prefix = [] if elsewhere is None else ["-C", str(root)]
    call = parse_fast_run([*prefix, "run", "-q", *argv])
    assert call is not None
    return run_fast(call)


def _slow_down(monkeypatch: pytest.MonkeyPatch, target: str, seconds: float) -> list[float]:
    """Make `module.function` (or `module.Class.method`) take `seconds` longer; the times
    at which it returned."""
    import importlib

    module_name, _, name = target.rpartition(".")
    try:
        owner: object = importlib.import_module(module_name)
    except ImportError:
        module_name, _, class_name = module_name.rpartition(".")
        owner = getattr(importlib.import_module(module_name), class_name)
    original = getattr(owner, name)
    returned: list[float] = []

    def slow(*args: object, **kwargs: object) -> object:
        time.sleep(seconds)
        try:
            return original(*args, **kwargs)
        finally:
            returned.append(time.time())

    monkeypatch.setattr(owner, name, slow)
    return returned


@pytest.mark.parametrize(("early", "from_elsewhere"), [(True, False), (False, False), (True, True)])
def test_roar_run_starts_the_command_before_its_store_is_open(
    probed: Workspace,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    tmp_path: Path,
    early: bool,
    from_elsewhere: bool,
) -> None:
    if not early:
        monkeypatch.setenv("ROAR_EARLY_START", "0")
    opened = _slow_down(monkeypatch, "roar.project.Project.open_store", 0.5)
    # the time first: the write waits for the gate, which opens after the store
    script = (
        "import os, time; print(time.time(), flush=True); open('out.txt', 'w').write(os.getcwd())"
    )
    elsewhere = tmp_path if from_elsewhere else None
    code = _run_in_process(probed.root, monkeypatch, PY, "-c", script, elsewhere=elsewhere)
    assert code == 0
    command_started = float(capfd.readouterr().out.split()[-1])
    assert (command_started < opened[0]) is early
    assert (probed.root / "out.txt").read_text() == str(probed.root.resolve())
    with probed.project.open_store() as store:
        job = store.list_jobs(limit=1)[0]
        assert [ref.path for ref in store.job_outputs(job.id)] == ["out.txt"]


@pytest.mark.parametrize("early", [True, False])
def test_the_git_state_is_the_one_the_command_started_from(
    probed: Workspace, monkeypatch: pytest.MonkeyPatch, early: bool
) -> None:
    """The command changes a tracked file at once; git is read only later (slowed down
    here), yet the job's tree is the clean one the command started from."""
    if not early:
        monkeypatch.setenv("ROAR_EARLY_START", "0")
    _slow_down(monkeypatch, "roar.capture.git_state.start_git_capture", 0.3)
    code = _run_in_process(probed.root, monkeypatch, "sh", "-c", "echo more >> train.py")
    assert code == 0
    assert (probed.root / "train.py").read_text().endswith("more\n")
    with probed.project.open_store() as store:
        job = store.list_jobs(limit=1)[0]
    assert job.git_dirty is False
    assert job.patch_hash is None


def test_a_tracked_file_deleted_before_the_run_and_made_again_is_recorded_deleted(
    probed: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new name may be made before the store is open, but not before the git state is
    read: else the patch would hold the command's new file instead of the deletion the
    command started from. git is slowed down here, so a creation let through early would
    win the race."""
    import roar.vcs.early_git as early_git

    real = early_git._answers

    def slow_answers(*args: object, **kwargs: object) -> object:
        time.sleep(0.3)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(early_git, "_answers", slow_answers)
    (probed.root / "train.py").unlink()
    code = _run_in_process(probed.root, monkeypatch, "sh", "-c", "echo new > train.py")
    assert code == 0
    with probed.project.open_store() as store:
        job = store.list_jobs(limit=1)[0]
    assert job.git_dirty is True
    assert job.patch_hash is not None
    from roar.objects import ObjectStore

    patch = ObjectStore(probed.project.objects_dir).get_bytes(job.patch_hash)
    assert b"deleted file mode" in patch
    assert b"+new" not in patch


def test_roar_init_asks_so_the_first_run_starts_early(
    git_repo: Path,
    c_loop: None,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    result = run_roar("init", cwd=git_repo)
    assert result.code == 0, result.stderr
    probes = cached_probes(git_repo / ".roar" / PROBE_FILE, probe_key())
    assert probes["seccomp"][0] is True
    opened = _slow_down(monkeypatch, "roar.project.Project.open_store", 0.5)
    code = _run_in_process(git_repo, monkeypatch, PY, "-c", "import time; print(time.time())")
    assert code == 0
    assert float(capfd.readouterr().out.split()[-1]) < opened[0]


def _damage_store(root: Path) -> None:
    (root / ".roar" / "roar.db").write_bytes(os.urandom(8192))
    for suffix in ("-wal", "-shm"):
        (root / ".roar" / f"roar.db{suffix}").unlink(missing_ok=True)


def _bad_config(root: Path) -> None:
    (root / ".roar" / "config.toml").write_text("[output\n")


@pytest.mark.parametrize(("damage", "code"), [(_damage_store, 5), (_bad_config, 4)])
@pytest.mark.parametrize("creates_first", [False, True])
def test_a_run_roar_cannot_record_ends_before_the_command_changes_a_file(
    probed: Workspace, damage: Callable[[Path], None], code: int, creates_first: bool
) -> None:
    """Nothing that existed is changed; a new file made before roar failed may remain."""
    probed.write("victim.txt", "victim\n")
    probed.write("kept.txt", "kept\n")
    damage(probed.root)
    changes = "rm victim.txt; echo x > kept.txt"
    script = f"echo x > out.txt; {changes}; echo ran" if creates_first else f"{changes}; echo ran"
    result = run_roar("run", "sh", "-c", script, cwd=probed.root)
    assert result.code == code
    assert result.stderr.count("\n") <= 1, result.stderr  # roar's one line, nothing else
    assert result.stderr.startswith("roar: error:")
    assert "ran" not in result.stdout
    assert (probed.root / "victim.txt").read_text() == "victim\n"
    assert (probed.root / "kept.txt").read_text() == "kept\n"
    if not creates_first:
        assert not (probed.root / "out.txt").exists()


def test_a_signal_while_roar_gets_ready_goes_to_the_command(
    probed: Workspace, tmp_path: Path
) -> None:
    """SIGTERM reaches the command even before roar waits for it (git is slowed down
    here), and roar stays to record the job as interrupted."""
    shims = tmp_path / "shims"
    shims.mkdir()
    real_git = subprocess.run(
        ["sh", "-c", "command -v git"], capture_output=True, text=True, check=True
    ).stdout.strip()
    shim = shims / "git"
    shim.write_text(f'#!/bin/sh\nsleep 1\nexec {real_git} "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
    env = {**os.environ, "PATH": f"{shims}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.Popen(
        [ROAR, "run", "-q", "sleep", "30"],
        cwd=probed.root,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(0.5)  # the command runs; roar is still waiting for git
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 128 + signal.SIGTERM, err
    with probed.project.open_store() as store:
        job = store.list_jobs(limit=1)[0]
    assert job.command == ("sleep", "30")
    assert job.notes == "interrupted by SIGTERM"


def test_launch_early_declines_what_the_usual_path_must_handle(
    probed: Workspace, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from roar.run.launch import launch_early

    monkeypatch.chdir(probed.root)
    assert launch_early(["true"], tracer="strace") is None
    assert launch_early(["no-such-program-here"]) is None
    assert launch_early(["true"], directory=str(tmp_path)) is None  # no project there
    assert launch_early(["true"], environ={**os.environ, "ROAR_EARLY_START": "off"}) is None
    launched = launch_early([sys.executable, "-c", "pass"])
    assert launched is not None
    assert launched.root == str(probed.root.resolve())
    assert launched.running.finish().exit_code == 0
    (probed.root / ".roar" / PROBE_FILE).unlink()  # not probed yet: the usual path
    assert launch_early(["true"]) is None


def test_a_command_started_early_reports_tails_unless_early_hashing_is_off(
    probed: Workspace, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The filter is chosen before roar.config loads: `hash.early` is read the way it
    resolves it (flag, environment, project file, user file), so switching it off spares
    the command the stops that only tails need."""
    from roar.run.launch import launch_early

    monkeypatch.chdir(probed.root)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("ROAR_HASH_EARLY", raising=False)
    project_file = probed.root / ".roar" / "config.toml"
    user_file = tmp_path / "roar" / "config.toml"
    user_file.parent.mkdir()

    def tails(**kwargs: object) -> bool:
        launched = launch_early([sys.executable, "-c", "pass"], **kwargs)  # type: ignore[arg-type]
        assert launched is not None
        return launched.running.finish().rewrites is not None

    assert tails()  # the file `roar init` writes holds only comments
    assert not tails(environ={**os.environ, "ROAR_HASH_EARLY": "off"})
    assert not tails(overrides=("hash.early=false",))
    user_file.write_text("[hash]\nearly = false\n")
    assert not tails()
    project_file.write_text("# mine\n[hash]\nearly = true\n")
    assert tails()  # the project's file outranks the user's
    assert not tails(overrides=("output.quiet=true", "hash.early=false"))
    assert tails(environ={**os.environ, "ROAR_HASH_EARLY": "true"}, overrides=())
    project_file.write_text("[hash\n")  # broken: the usual path will say so
    assert not tails()  # the user's file still speaks


# -- the command as roar's C extension starts it (trace/spawned.py) ------------------------


def test_a_command_started_early_gets_no_descriptor_of_roar_s_and_default_sigpipe(
    probed: Workspace,
) -> None:
    """As subprocess would start it: descriptors above 2 that roar inherited stay out of
    the command (close_fds), and SIGPIPE, which Python ignores, is back to its default,
    so `yes | head -n 1` ends at once instead of writing to a closed pipe forever."""
    import subprocess

    from tests.helpers import ROAR

    read_end, write_end = os.pipe()
    os.set_inheritable(write_end, True)
    try:
        proc = subprocess.run(
            [
                ROAR,
                "run",
                "-q",
                "sh",
                "-c",
                f"ls /proc/self/fd; test ! -e /proc/self/fd/{write_end}",
            ],
            cwd=probed.root,
            capture_output=True,
            text=True,
            pass_fds=(write_end,),
            timeout=60,
            check=False,
        )
    finally:
        os.close(read_end)
        os.close(write_end)
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    started = time.monotonic()
    result = run_roar("run", "-q", "sh", "-c", "yes | head -n 1", cwd=probed.root)
    assert result.code == 0, result.stderr
    assert result.stdout == "y\n"
    assert "Broken pipe" not in result.stderr  # yes was ended by SIGPIPE, not told EPIPE
    assert time.monotonic() - started < 20


def test_a_command_that_cannot_be_executed_after_all_is_one_line_and_127(
    probed: Workspace,
) -> None:
    """An executable file whose interpreter is missing passes the PATH check and fails
    only in execve, in the child: roar says so in one line and exits 127."""
    script = probed.write("broken.sh", "#!/no/such/interpreter\necho never\n")
    script.chmod(0o755)
    result = run_roar("run", "./broken.sh", cwd=probed.root)
    assert result.code == 127, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "./broken.sh" in lines[0]
    assert "No such file or directory" in lines[0]


def test_a_command_started_early_has_its_output_hashed_as_it_is_written(
    probed: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The spawned command's supervision reports what a tail's proof needs, so `roar run`
    takes the output's digest from its tail, and records the file's own hash."""
    import roar.run.recording as recording
    from roar.hashing import hash_file

    proven: list[set[str]] = []
    prove = recording.proven_entries

    def spy(*args: object, **kwargs: object) -> dict[str, object]:
        entries = prove(*args, **kwargs)  # type: ignore[arg-type]
        proven.append(set(entries))
        return entries  # type: ignore[return-value]

    monkeypatch.setattr(recording, "proven_entries", spy)
    from tests.trace.test_tail_hash import _mark_when_tailed, _program

    _mark_when_tailed(monkeypatch, probed.root)
    program = _program("sequential")
    assert _run_in_process(probed.root, monkeypatch, PY, "-c", program) == 0
    out = probed.root / "out.bin"
    assert proven == [{str(out)}]
    with probed.project.open_store() as store:
        job = store.list_jobs(limit=1)[0]
        recorded = {ref.path: ref.artifact.hash for ref in store.job_outputs(job.id)}
    assert recorded["out.bin"] == hash_file(out)
