"""The correctness suite of both full tracers: every case a real command, traced for real.

Each case runs twice, under strace (ptrace) and under the seccomp user-notification
tracer, and both must record exactly the same inputs and outputs.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import blake3
import pytest

from tests.trace.conftest import PY, Workspace, compile_c


@pytest.fixture(autouse=True, params=["strace", "seccomp", "seccomp-python-loop"])
def backend(request: pytest.FixtureRequest, ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> str:
    """seccomp runs its C supervisor loop when built; the Python loop is checked too."""
    name = str(request.param)
    if name == "seccomp-python-loop":
        monkeypatch.setenv("ROAR_SECCOMP_LOOP", "python")
        name = "seccomp"
    ws.tracer = name  # type: ignore[assignment]
    return name


def test_relative_paths_after_chdir(ws: Workspace) -> None:
    ws.write("data/raw.txt", "raw\n")
    (ws.root / "work").mkdir()
    traced = ws.trace(["sh", "-c", "cd work && cat ../data/raw.txt > ../data/copy.txt"])
    assert traced.inputs == {"data/raw.txt"}
    assert traced.outputs == {"data/copy.txt"}


def test_python_chdir_and_relative_rename(ws: Workspace) -> None:
    ws.write("a/in.txt", "x")
    traced = ws.python(
        """
        import os
        os.chdir("a")
        data = open("in.txt").read()
        open("tmp.out", "w").write(data)
        os.rename("tmp.out", "final.out")
        """
    )
    assert traced.data_inputs == {"a/in.txt"}
    assert traced.outputs == {"a/final.out"}


def test_relative_opens_follow_every_chdir(ws: Workspace) -> None:
    """The C supervisor keeps each thread's cwd between opens: a chdir, by this thread or
    another, must still show at once, including for a thread told only through a futex
    (threading.Event) that the cwd moved."""
    for name in ("top1.txt", "top2.txt", "top3.txt", "a/in_a.txt", "b/in_b.txt", "b/c/in_c.txt"):
        ws.write(name, name)
    traced = ws.python(
        """
        import os, threading
        for _ in range(3):
            open("top1.txt").read()
        os.chdir("a")
        open("in_a.txt").read()
        os.chdir("..")
        open("top2.txt").read()
        moved, go = threading.Event(), threading.Event()
        def worker():
            open("top3.txt").read()
            moved.set()
            go.wait()
            open("in_b.txt").read()
            fd = os.open("c", os.O_RDONLY | os.O_DIRECTORY)
            os.fchdir(fd)
            os.close(fd)
            open("in_c.txt").read()
        thread = threading.Thread(target=worker)
        thread.start()
        moved.wait()
        os.chdir("b")
        go.set()
        thread.join()
        """
    )
    assert traced.data_inputs == {
        "top1.txt", "top2.txt", "top3.txt", "a/in_a.txt", "b/in_b.txt", "b/c/in_c.txt"
    }  # fmt: skip


def test_renaming_the_working_directory(ws: Workspace) -> None:
    traced = ws.python(
        """
        import os
        os.makedirs("before")
        os.chdir("before")
        open("first.txt", "w").write("1")
        os.rename("../before", "../after")
        open("second.txt", "w").write("2")
        """
    )
    # first.txt was written as before/first.txt, a name gone at the end: the directory
    # renamed into place carries it to its final path
    assert traced.outputs == {"after/first.txt", "after/second.txt"}


def test_threads(ws: Workspace) -> None:
    for i in range(4):
        ws.write(f"in{i}.txt", str(i))
    traced = ws.python(
        """
        import threading
        def work(i):
            data = open(f"in{i}.txt").read()
            open(f"out{i}.txt", "w").write(data * 2)
        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for t in threads: t.start()
        for t in threads: t.join()
        """
    )
    assert traced.data_inputs == {f"in{i}.txt" for i in range(4)}
    assert traced.outputs == {f"out{i}.txt" for i in range(4)}


def test_subprocess_chain(ws: Workspace) -> None:
    ws.write("words.txt", "b\na\nc\n")
    traced = ws.python(
        """
        import subprocess
        subprocess.run(["sh", "-c", "sort words.txt | uniq > sorted.txt"], check=True)
        subprocess.run(["sh", "-c", "sh -c 'wc -l < sorted.txt > count.txt'"], check=True)
        """
    )
    assert traced.data_inputs == {"words.txt"}
    assert traced.outputs == {"sorted.txt", "count.txt"}


def test_vfork_child(ws: Workspace) -> None:
    ws.write("in.txt", "vfork\n")
    binary = compile_c(
        ws,
        "vforker",
        """
        #include <unistd.h>
        #include <sys/wait.h>
        int main(void) {
            pid_t pid = vfork();
            if (pid == 0) {
                execl("/bin/sh", "sh", "-c", "cat in.txt > out.txt", (char *)0);
                _exit(127);
            }
            int status; waitpid(pid, &status, 0);
            return WEXITSTATUS(status);
        }
        """,
    )
    traced = ws.trace([str(binary)])
    assert "in.txt" in traced.inputs
    assert traced.outputs == {"out.txt"}


def test_a_process_left_running_is_waited_for_and_its_files_recorded(ws: Workspace) -> None:
    """The command's shell exits at once; the process it left running reads and writes
    later. The job ends when every process it started has ended, as under strace -f (a
    process left behind under the seccomp filter needs roar's loop for each file call)."""
    ws.write("in.txt", "late\n")
    started = time.monotonic()
    traced = ws.trace(["sh", "-c", "(sleep 1; cat in.txt > late.txt) & echo now > early.txt"])
    assert time.monotonic() - started >= 1.0
    assert traced.inputs == {"in.txt"}
    assert traced.outputs == {"early.txt", "late.txt"}
    assert traced.hash_of("late.txt") == blake3.blake3(b"late\n").hexdigest()


def test_static_binary(ws: Workspace) -> None:
    ws.write("in.txt", "static\n")
    binary = compile_c(
        ws,
        "staticcopy",
        """
        #include <stdio.h>
        int main(void) {
            FILE *in = fopen("in.txt", "r"), *out = fopen("out.txt", "w");
            int c; while ((c = fgetc(in)) != EOF) fputc(c, out);
            fclose(in); fclose(out); return 0;
        }
        """,
        static=True,
    )
    traced = ws.trace([str(binary)])
    assert "in.txt" in traced.inputs
    assert "staticcopy" in traced.inputs  # the program itself, built in the project
    assert traced.outputs == {"out.txt"}


def test_c_level_fopen_through_ctypes(ws: Workspace) -> None:
    ws.write("c_in.txt", "ctypes\n")
    traced = ws.python(
        """
        import ctypes, ctypes.util
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        libc.fopen.restype = ctypes.c_void_p
        libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
        libc.fclose.argtypes = [ctypes.c_void_p]
        libc.fputs.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
        read = libc.fopen(b"c_in.txt", b"r"); libc.fclose(read)
        out = libc.fopen(b"c_out.txt", b"w"); libc.fputs(b"hello", out); libc.fclose(out)
        """
    )
    assert "c_in.txt" in traced.inputs
    assert traced.outputs == {"c_out.txt"}


def test_shell_redirects(ws: Workspace) -> None:
    ws.write("a", "redirect\n")
    traced = ws.trace(["sh", "-c", "cat < a > b"])
    assert traced.inputs == {"a"}
    assert traced.outputs == {"b"}
    assert traced.hash_of("b") == blake3.blake3(b"redirect\n").hexdigest()


def test_mv_is_renameat2(ws: Workspace) -> None:
    traced = ws.trace(["sh", "-c", "echo x > made.txt && mkdir -p d && mv made.txt d/moved.txt"])
    assert traced.outputs == {"d/moved.txt"}


def _from_before_the_job(ws: Workspace, name: str, content: str) -> Path:
    """A file the job finds, last written well before it starts (classify trusts a moved
    file's content only when its mtime is older than the job)."""
    path = ws.write(name, content)
    past = time.time() - 60
    os.utime(path, (past, past))
    return path


def test_a_file_the_job_renames_is_its_input_under_the_old_name(ws: Workspace) -> None:
    _from_before_the_job(ws, "inbox/data.csv", "a,b\n1,2\n")
    traced = ws.trace(["sh", "-c", "mkdir -p done && mv inbox/data.csv done/data.csv"])
    assert traced.inputs == {"inbox/data.csv"}
    assert traced.outputs == {"done/data.csv"}
    expected = blake3.blake3(b"a,b\n1,2\n").hexdigest()
    assert traced.hash_of("inbox/data.csv") == traced.hash_of("done/data.csv") == expected


def test_an_input_renamed_twice_keeps_its_first_name(ws: Workspace) -> None:
    _from_before_the_job(ws, "a.txt", "first\n")
    traced = ws.python(
        """
        import os
        os.rename("a.txt", "b.txt")
        os.replace("b.txt", "c.txt")
        """
    )
    assert traced.data_inputs == {"a.txt"}
    assert traced.outputs == {"c.txt"}
    assert traced.hash_of("a.txt") == blake3.blake3(b"first\n").hexdigest()


def test_a_renamed_file_written_afterwards_is_no_input(ws: Workspace) -> None:
    """Its old content is gone: no hash can stand for the input any more."""
    _from_before_the_job(ws, "log.txt", "old\n")
    traced = ws.trace(["sh", "-c", "mv log.txt log.1 && echo new >> log.1"])
    assert traced.inputs == set()
    assert traced.outputs == {"log.1"}


def test_a_file_the_job_wrote_then_renamed_is_no_input(ws: Workspace) -> None:
    """Renaming over an existing file: the new content is the job's, the old one gone."""
    _from_before_the_job(ws, "model.pt", "old weights")
    traced = ws.python(
        """
        import os
        with open("model.pt.tmp", "w") as f:
            f.write("new weights")
        os.replace("model.pt.tmp", "model.pt")
        """
    )
    assert traced.data_inputs == set()
    assert traced.outputs == {"model.pt"}


def test_an_input_moved_out_of_the_project_under_tmp_is_still_an_input(ws: Workspace) -> None:
    """The new name is dropped (a temporary place), the input it came from is not."""
    _from_before_the_job(ws, "raw.bin", "raw bytes")
    scratch = Path(tempfile.mkdtemp(prefix="roar-moved-"), "raw.bin")
    try:
        traced = ws.python(f"import shutil; shutil.move('raw.bin', {str(scratch)!r})")
        assert traced.data_inputs == {"raw.bin"}
        assert traced.outputs == set()
        assert traced.hash_of("raw.bin") == blake3.blake3(b"raw bytes").hexdigest()
    finally:
        shutil.rmtree(scratch.parent)


def test_a_directory_written_under_a_temporary_name_then_renamed(ws: Workspace) -> None:
    """The checkpoint pattern: every file lands at its final path, none under the old."""
    traced = ws.trace(
        [
            "sh",
            "-c",
            "mkdir -p ckpt.tmp/shards && echo w > ckpt.tmp/shards/0.bin "
            "&& echo c > ckpt.tmp/config.json && mv ckpt.tmp/ ckpt/ "
            "&& cat ckpt/config.json > /dev/null",  # read back: still an output
        ]
    )
    assert traced.inputs == set()
    assert traced.outputs == {"ckpt/shards/0.bin", "ckpt/config.json"}
    assert traced.hash_of("ckpt/shards/0.bin") == blake3.blake3(b"w\n").hexdigest()


def test_a_directory_replaced_by_one_renamed_into_place(ws: Workspace) -> None:
    """save_pretrained-style: write a new version aside, remove the old, rename the new."""
    _from_before_the_job(ws, "model/weights.bin", "old")
    _from_before_the_job(ws, "model/stale.bin", "gone")
    traced = ws.python(
        """
        import os, shutil
        previous = open("model/weights.bin").read()  # say, to compare
        os.makedirs("model.new")
        open("model.new/weights.bin", "w").write("new")
        shutil.rmtree("model")
        os.rename("model.new", "model")
        """
    )
    assert traced.data_inputs == set()
    assert traced.outputs == {"model/weights.bin"}
    assert traced.hash_of("model/weights.bin") == blake3.blake3(b"new").hexdigest()


def test_a_directory_the_job_found_and_renamed_moves_its_files(ws: Workspace) -> None:
    _from_before_the_job(ws, "raw/a.txt", "A")
    _from_before_the_job(ws, "raw/deep/b.txt", "B")
    old = _from_before_the_job(ws, "elsewhere/c.txt", "C")
    _from_before_the_job(ws, "extra.txt", "E")
    traced = ws.trace(
        # c.txt is copied in after the move, keeping its old mtime: no input raw/c.txt;
        # extra.txt is moved in after it: an input under its own old name
        [
            "sh",
            "-c",
            f"mv raw archive && cp -p {old} archive/c.txt && mv extra.txt archive/ "
            "&& cat archive/a.txt",
        ]
    )
    assert traced.inputs == {"raw/a.txt", "raw/deep/b.txt", "elsewhere/c.txt", "extra.txt"}
    assert traced.outputs == {
        "archive/a.txt",
        "archive/deep/b.txt",
        "archive/c.txt",
        "archive/extra.txt",
    }
    assert traced.hash_of("raw/deep/b.txt") == blake3.blake3(b"B").hexdigest()


def test_a_directory_rename_that_failed_records_nothing(ws: Workspace) -> None:
    """Onto a directory that is not empty: both stay as they were."""
    _from_before_the_job(ws, "src/a.txt", "A")
    _from_before_the_job(ws, "full/old.txt", "old")
    time.sleep(0.05)  # full/'s ctime (set as old.txt was made) must be older than the job
    traced = ws.python(
        """
        import os
        try:
            os.rename("src", "full")
        except OSError:
            pass
        """
    )
    assert traced.data_inputs == set()
    assert traced.outputs == set()


def test_the_source_of_a_hard_link_the_job_made_is_an_input(ws: Workspace) -> None:
    _from_before_the_job(ws, "data.csv", "1,2\n")
    traced = ws.python(
        """
        import os
        os.makedirs("stage")
        os.link("data.csv", "stage/data.csv")
        open("fresh.csv", "w").write("new")
        os.link("fresh.csv", "stage/fresh.csv")  # the job's own content: no input
        """
    )
    assert traced.data_inputs == {"data.csv"}
    assert traced.outputs == {"stage/data.csv", "fresh.csv", "stage/fresh.csv"}
    assert traced.hash_of("data.csv") == blake3.blake3(b"1,2\n").hexdigest()
    assert "moved_inputs" not in traced.outcome.job.env  # still there: not moved


def test_an_exchanging_rename_moves_both_contents(ws: Workspace) -> None:
    """After the swap `left` holds right's content and `kept` (renamed from right) left's.
    `right` is gone, so its content is an input; left's is not, as a path the job wrote is
    an output only (as a file edited in place is)."""
    _from_before_the_job(ws, "left", "L")
    _from_before_the_job(ws, "right", "R")
    traced = ws.python(
        """
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        AT_FDCWD, RENAME_EXCHANGE = -100, 2
        if libc.renameat2(AT_FDCWD, b"left", AT_FDCWD, b"right", RENAME_EXCHANGE) != 0:
            raise OSError(ctypes.get_errno(), "renameat2")
        os.rename("right", "kept")
        """
    )
    assert traced.data_inputs == {"right"}
    assert traced.hash_of("right") == blake3.blake3(b"R").hexdigest()
    assert traced.outputs == {"left", "kept"}


def test_dirfd_relative_open(ws: Workspace) -> None:
    ws.write("sub/in.txt", "dirfd")
    traced = ws.python(
        """
        import os
        fd = os.open("sub", os.O_RDONLY | os.O_DIRECTORY)
        r = os.open("in.txt", os.O_RDONLY, dir_fd=fd); os.read(r, 100); os.close(r)
        w = os.open("out.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(w, b"x"); os.close(w)
        """
    )
    assert "sub/in.txt" in traced.inputs
    assert traced.outputs == {"sub/out.txt"}


def test_o_tmpfile_then_linkat(ws: Workspace) -> None:
    traced = ws.python(
        """
        import ctypes, ctypes.util, os
        AT_FDCWD, AT_SYMLINK_FOLLOW = -100, 0x400
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        fd = os.open(".", os.O_TMPFILE | os.O_WRONLY, 0o644)
        os.write(fd, b"anonymous until linked")
        source = f"/proc/self/fd/{fd}".encode()
        if libc.linkat(AT_FDCWD, source, AT_FDCWD, b"linked.bin", AT_SYMLINK_FOLLOW) != 0:
            raise OSError(ctypes.get_errno(), "linkat")
        os.close(fd)
        """
    )
    assert traced.outputs == {"linked.bin"}
    assert traced.hash_of("linked.bin") == blake3.blake3(b"anonymous until linked").hexdigest()


def test_write_tmp_then_rename(ws: Workspace) -> None:
    traced = ws.python(
        """
        import os
        with open("model.pt.tmp", "wb") as f:
            f.write(b"weights")
        os.replace("model.pt.tmp", "model.pt")
        """
    )
    assert traced.outputs == {"model.pt"}


def test_temp_file_deleted_before_exit(ws: Workspace) -> None:
    traced = ws.python(
        """
        import os
        open("scratch.tmp", "w").write("gone soon")
        open("kept.txt", "w").write(open("scratch.tmp").read())
        os.remove("scratch.tmp")
        """
    )
    assert traced.outputs == {"kept.txt"}
    assert "scratch.tmp" not in traced.inputs


def test_sqlite_database(ws: Workspace) -> None:
    traced = ws.python(
        """
        import sqlite3
        db = sqlite3.connect("results.db")
        db.execute("CREATE TABLE r (x)"); db.execute("INSERT INTO r VALUES (1)")
        db.commit(); db.close()
        """
    )
    assert traced.outputs == {"results.db"}  # the journal came and went


def test_memory_mapped_read(ws: Workspace) -> None:
    ws.write("big.bin", os.urandom(1 << 20))
    traced = ws.python(
        """
        import mmap
        with open("big.bin", "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
            open("first.bin", "wb").write(m[:16])
        """
    )
    assert "big.bin" in traced.inputs
    assert traced.outputs == {"first.bin"}


def test_read_write_open_that_changes_nothing_is_an_input(ws: Workspace) -> None:
    ws.write("state.bin", "unchanged")
    time.sleep(0.05)  # the file existed before the job, not within one clock tick of it
    traced = ws.python(
        """
        import os
        fd = os.open("state.bin", os.O_RDWR); os.read(fd, 4); os.close(fd)
        """
    )
    assert "state.bin" in traced.inputs
    assert traced.outputs == set()


def test_append_to_existing_file_is_an_output(ws: Workspace) -> None:
    ws.write("log.txt", "line 1\n")
    traced = ws.trace(["sh", "-c", "echo 'line 2' >> log.txt"])
    assert traced.outputs == {"log.txt"}


def test_odd_file_names_survive(ws: Workspace) -> None:
    names = ["with space.txt", "new\nline.txt", os.fsdecode(b"caf\xe9.txt"), "50%.txt"]
    for i, name in enumerate(names):
        ws.write(f"in/{name}", str(i))
    script = ws.script(
        "odd.py",
        """
        import os
        os.makedirs(b"out", exist_ok=True)
        for name in sorted(os.listdir(b"in")):
            data = open(os.path.join(b"in", name), "rb").read()
            open(os.path.join(b"out", name), "wb").write(data)
        """,
    )
    traced = ws.trace([PY, str(script)])
    assert traced.inputs >= {f"in/{n}" for n in names}
    assert traced.outputs == {f"out/{n}" for n in names}
    reloaded = ws.project.open_store()
    try:
        stored = {ref.path for ref in reloaded.job_outputs(traced.outcome.job.id)}
    finally:
        reloaded.close()
    assert stored == {f"out/{n}" for n in names}


def test_many_reads_and_writes_none_misclassified(ws: Workspace) -> None:
    source = ws.root / "many"
    source.mkdir()
    for i in range(5000):
        (source / f"in{i:04d}.txt").write_text(str(i))
    traced = ws.python(
        """
        import os
        total = 0
        for i in range(5000):
            with open(f"many/in{i:04d}.txt") as f:
                total += int(f.read())
        os.makedirs("results", exist_ok=True)
        for i in range(500):
            with open(f"results/out{i:03d}.txt", "w") as f:
                f.write(str(total + i))
        """
    )
    assert traced.inputs - {"step.py"} == {f"many/in{i:04d}.txt" for i in range(5000)}
    assert traced.outputs == {f"results/out{i:03d}.txt" for i in range(500)}


def test_project_under_tmp_records_outputs(ws: Workspace) -> None:
    assert str(ws.root).startswith("/tmp/")  # pytest's tmp_path lives under /tmp
    traced = ws.trace(["sh", "-c", "echo hi > out.txt; echo scratch > /tmp/roar-test-outside.txt"])
    os.unlink("/tmp/roar-test-outside.txt")
    assert traced.outputs == {"out.txt"}


def test_project_in_shared_memory_records_its_files(ws: Workspace, backend: str) -> None:
    """/dev/shm is a tmpfs of ordinary files, not a device: a project kept there for speed
    records its files; outside the project it is scratch space, like /tmp."""
    if not os.path.isdir("/dev/shm"):
        pytest.skip("this machine has no /dev/shm")
    home = Path(tempfile.mkdtemp(prefix="roar-shm-", dir="/dev/shm"))
    try:
        shutil.copytree(ws.root, home / "repo")
        shm = Workspace(home / "repo")
        shm.tracer = ws.tracer
        shm.write("in.txt", "raw\n")
        scratch = home / "scratch.txt"
        traced = shm.trace(["sh", "-c", f"cat in.txt > out.txt; echo s > {scratch}; cat {scratch}"])
        assert traced.inputs == {"in.txt"}
        assert traced.outputs == {"out.txt"}
        assert traced.outcome.tracer == backend
    finally:
        shutil.rmtree(home)


def test_git_run_by_the_job_leaves_no_git_files_in_its_record(ws: Workspace) -> None:
    """HEAD, refs, objects and the index that `git` reads and rewrites are git's own; the
    commit is in the job's git state. As inputs they would change with every commit."""
    traced = ws.trace(["sh", "-c", "git rev-parse HEAD > rev.txt; git status --short > st.txt"])
    assert traced.outputs == {"rev.txt", "st.txt"}
    assert not [path for path in traced.inputs if ".git" in path.split("/")], traced.inputs
    assert traced.outcome.job.git_commit == (ws.root / "rev.txt").read_text().strip()


def test_bytecode_python_writes_for_a_project_module_is_not_lineage(ws: Workspace) -> None:
    """The first job to import util.py writes its .pyc, the next reads it: recorded, that
    made the second job depend on the first. util.py itself is the tracked source."""
    ws.write("util.py", "def f(x):\n    return x * 2\n")
    body = """
        import sys
        sys.dont_write_bytecode = False
        import util
        open("out.txt", "w").write(str(util.f(21)))
        """
    first, second = ws.python(body), ws.python(body)
    assert (ws.root / "__pycache__").is_dir()  # Python did write it
    assert first.outputs == second.outputs == {"out.txt"}
    assert not [p for p in first.inputs | second.inputs if "__pycache__" in p]


def test_matplotlibs_font_cache_is_not_lineage(ws: Workspace) -> None:
    """The first job that plots writes matplotlib's font list in the home directory and every
    later one reads it: as files they would chain unrelated jobs together."""
    body = """
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        plt.plot([1, 2])
        plt.savefig("fig.png")
        """
    # the test's HOME and temp dirs live under /tmp: the tmp rule must not be what drops it
    ws.project.config_path.write_text("[filters]\nignore_tmp_files = false\n")
    cache = Path(tempfile.mkdtemp(prefix="roar-mpl-"))
    try:  # a cache of the test's own, so the first job really writes it
        first = ws.python(body, env={"MPLCONFIGDIR": str(cache)})
        second = ws.python(body, env={"MPLCONFIGDIR": str(cache)})
        assert list(cache.glob("fontlist-*.json"))
    finally:
        shutil.rmtree(cache)
    assert first.outputs == second.outputs == {"fig.png"}
    assert not [p for p in first.inputs | second.inputs if "fontlist" in p]


def test_files_under_tmp_outside_the_project_follow_the_filter(ws: Workspace) -> None:
    outside = Path(tempfile.mkdtemp(prefix="roar-outside-")) / "dataset.csv"
    try:
        outside.write_text("1,2\n")
        assert ws.trace(["cat", str(outside)]).inputs == set()
        ws.project.config_path.write_text("[filters]\nignore_tmp_files = false\n")
        assert ws.trace(["cat", str(outside)]).inputs == {str(outside)}  # absolute
    finally:
        shutil.rmtree(outside.parent)


def test_the_backend_asked_for_is_the_one_used(ws: Workspace, backend: str) -> None:
    ws.write("in.txt")
    traced = ws.trace(["cat", "in.txt"])
    assert traced.outcome.tracer == backend
    assert traced.outcome.job.trace_coverage == "full"


def test_failed_calls_record_nothing(ws: Workspace) -> None:
    ws.write("exists.txt", "keep")
    ws.write("moved.txt", "stays")
    time.sleep(0.05)
    traced = ws.python(
        """
        import os
        for attempt in (
            lambda: open("missing.txt"),
            lambda: os.open("exists.txt", os.O_WRONLY | os.O_CREAT | os.O_EXCL),
            lambda: os.rename("moved.txt", "no/such/dir/moved.txt"),
            lambda: open("no/such/dir/out.txt", "w"),
        ):
            try:
                attempt()
            except OSError:
                pass
        """
    )
    assert traced.data_inputs == set()
    assert traced.outputs == set()
    assert (ws.root / "exists.txt").read_text() == "keep"


def test_long_paths_are_read_whole(ws: Workspace) -> None:
    deep = "/".join(["d" * 60] * 6)  # 366 characters: more than one small read
    ws.write(f"{deep}/in.txt", "deep")
    traced = ws.trace(["sh", "-c", f"cat {deep}/in.txt > {deep}/out.txt"])
    assert traced.inputs == {f"{deep}/in.txt"}
    assert traced.outputs == {f"{deep}/out.txt"}


def test_paths_through_a_symlinked_directory_are_resolved(ws: Workspace) -> None:
    ws.write("real/in.txt", "x")
    (ws.root / "alias").symlink_to(ws.root / "real")
    traced = ws.trace(["sh", "-c", "cat alias/in.txt > alias/out.txt; cat real/../real/in.txt"])
    assert traced.inputs == {"real/in.txt"}
    assert traced.outputs == {"real/out.txt"}
