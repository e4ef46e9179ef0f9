"""`roar run` leaves SQLite's WAL checkpoints to the next run's idle time (store/wal.py).

Checked on real database files: the job a run recorded is readable at once by any other
connection, stays in the log after the run (the close did not fold it), is folded into
the main file by a `BackgroundCheckpoint`, and a roar killed at any point leaves a
database that passes SQLite's integrity check.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from roar.store import wal as wal_module
from roar.store.wal import BackgroundCheckpoint, skip_checkpoint_on_close
from tests.helpers import ROAR
from tests.trace.conftest import Workspace


def _jobs_in_main_file_only(db: Path, scratch: Path) -> int:
    """Jobs visible from the main database file alone, without its log."""
    copy = scratch / "main-only.db"
    shutil.copyfile(db, copy)
    with closing(sqlite3.connect(copy)) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0])


def _jobs(db: Path) -> int:
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0])


def _write_many(ws: Workspace, count: int) -> None:
    ws.python(
        f"""
        import os
        os.makedirs("out", exist_ok=True)
        for i in range({count}):
            with open(f"out/f{{i}}.txt", "w") as f:
                f.write(str(i))
        """
    )


@pytest.fixture(params=["native", "ctypes"])
def handle_calls(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """On 3.11 the handle is reached by roar's C extension, else through ctypes: both."""
    if request.param == "ctypes":
        monkeypatch.setattr(wal_module, "_native", lambda: None)
    elif wal_module._native() is None:
        pytest.skip("roar's C extensions were not built here (no compiler)")
    return str(request.param)


def test_closing_skips_the_checkpoint_and_the_log_keeps_the_data(
    tmp_path: Path, handle_calls: str
) -> None:
    db = tmp_path / "x.db"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE t (v INTEGER)")
    assert skip_checkpoint_on_close(conn, str(db))
    conn.execute("INSERT INTO t VALUES (42)")
    conn.close()
    assert (tmp_path / "x.db-wal").stat().st_size > 0  # not folded, not deleted
    with closing(sqlite3.connect(db)) as reader:
        assert reader.execute("SELECT v FROM t").fetchall() == [(42,)]


def test_a_handle_for_another_database_is_refused(tmp_path: Path, handle_calls: str) -> None:
    """Python 3.11 reaches SQLite through the connection's C handle and must refuse one
    that names another file; 3.12+ sets the option on the connection itself."""
    conn = sqlite3.connect(":memory:")
    try:
        done = skip_checkpoint_on_close(conn, str(tmp_path / "elsewhere.db"))
    finally:
        conn.close()
    assert done is (sys.version_info >= (3, 12))


def test_the_native_path_leaves_ctypes_unloaded(tmp_path: Path) -> None:
    """ctypes costs `roar run` 3-5 ms to import; with the C extension nothing loads it."""
    if wal_module._native() is None or sys.version_info >= (3, 12):
        pytest.skip("only Python 3.11 with roar's C extensions takes this path")
    code = (
        "import sqlite3, sys\n"
        "from roar.store.wal import skip_checkpoint_on_close\n"
        f"conn = sqlite3.connect({str(tmp_path / 'y.db')!r})\n"
        f"assert skip_checkpoint_on_close(conn, {str(tmp_path / 'y.db')!r})\n"
        "print('ctypes' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert (proc.returncode, proc.stdout.strip()) == (0, "False"), proc.stderr


def test_the_extension_reads_handles_only_of_open_connections() -> None:
    """It reads memory at a fixed place in the object: only a Connection's, and a closed
    one's handle (NULL) is never passed to SQLite."""
    native = wal_module._native()
    if native is None:
        pytest.skip("roar's C extensions were not built here (no compiler)")
    import _sqlite3

    library = os.fsencode(_sqlite3.__file__)
    with pytest.raises(TypeError, match="sqlite3.Connection"):
        native.filename(object(), library)
    conn = sqlite3.connect(":memory:")
    conn.close()
    assert native.filename(conn, library) is None
    assert native.no_checkpoint_on_close(conn, library) is False


def test_a_run_defers_its_checkpoint_and_the_next_one_folds_it(
    ws: Workspace, tmp_path: Path
) -> None:
    db = ws.project.roar_dir / "roar.db"
    ws.tracer = "auto"
    _write_many(ws, 400)
    assert _jobs(db) == 1  # another connection sees the job at once
    assert _jobs_in_main_file_only(db, tmp_path) == 0  # still only in the log
    checkpoint = BackgroundCheckpoint(db, threshold=0)
    assert checkpoint.started
    checkpoint.join()
    assert _jobs_in_main_file_only(db, tmp_path) == 1


def _salt(wal: Path) -> bytes:
    """The WAL header's salts: SQLite changes them each time the log starts over."""
    return wal.read_bytes()[16:24]


def test_a_run_folds_the_log_while_its_command_runs_then_starts_it_over(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fold happens while the command runs, so the run's own commit finds the log
    fully folded, writes it from the start (new salts in the header) and cuts the file
    to what it wrote: the size the next run looks at is what there is to fold."""
    monkeypatch.setattr(wal_module, "CHECKPOINT_AFTER_BYTES", 64 << 10)
    db = ws.project.roar_dir / "roar.db"
    wal = ws.project.roar_dir / "roar.db-wal"
    ws.tracer = "auto"
    _write_many(ws, 1500)
    big, salt = wal.stat().st_size, _salt(wal)
    assert big > 64 << 10
    ws.python("import time\ntime.sleep(0.5)\nopen('small.txt', 'w').write('x')\n")
    assert _salt(wal) != salt  # written from the start, not appended
    size = wal.stat().st_size
    assert size < big
    with closing(sqlite3.connect(db)) as conn:
        page = conn.execute("PRAGMA page_size").fetchone()[0]
        skip_checkpoint_on_close(conn, str(db))
        frames = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]
    assert size == 32 + frames * (24 + page)  # the header and this run's frames only


def test_a_small_log_is_left_for_later(ws: Workspace) -> None:
    db = ws.project.roar_dir / "roar.db"
    ws.tracer = "auto"
    _write_many(ws, 3)
    assert not BackgroundCheckpoint(db).started  # far below the threshold


def test_the_log_stays_bounded_over_many_runs(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the log passes the threshold, the next run folds it while its command runs,
    and the run after that writes from the start of the log again."""
    monkeypatch.setattr(wal_module, "CHECKPOINT_AFTER_BYTES", 512 << 10)
    wal = ws.project.roar_dir / "roar.db-wal"
    ws.tracer = "auto"
    sizes = []
    for _ in range(7):
        _write_many(ws, 600)
        sizes.append(wal.stat().st_size)
    # The log passes the threshold within three runs (without folding it would reach
    # 7 runs' worth, over 2 MiB), and each time it does, the next run folds it.
    assert max(sizes) > 512 << 10, sizes
    assert any(b < a for a, b in zip(sizes, sizes[1:], strict=False)), sizes
    assert max(sizes) <= 3 * (512 << 10), sizes


@pytest.mark.parametrize("delay", [0.05, 0.3, 0.6])
def test_killing_roar_leaves_a_sound_database(ws: Workspace, delay: float) -> None:
    db = ws.project.roar_dir / "roar.db"
    ws.tracer = "auto"
    _write_many(ws, 1500)  # a log big enough for the next run to fold in the background
    script = ws.script(
        "many.py",
        """
        import os
        os.makedirs("more", exist_ok=True)
        for i in range(3000):
            with open(f"more/f{i}.txt", "w") as f:
                f.write(str(i))
        """,
    )
    proc = subprocess.Popen(
        [ROAR, "run", "-q", sys.executable, str(script)],
        cwd=ws.root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        jobs = conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
        assert jobs in (1, 2)  # the killed run is recorded whole or not at all
        rows = conn.execute(
            "SELECT COUNT(*) FROM job_outputs WHERE job_id = (SELECT MAX(id) FROM jobs)"
        ).fetchone()[0]
        assert rows == (1500 if jobs == 1 else 3000)
