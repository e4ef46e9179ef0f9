"""The fallback backend: what it sees, and the gaps it documents."""

from __future__ import annotations

import os
import time

import blake3

from tests.trace.conftest import PY, Workspace


def test_python_reads_and_writes_are_seen(ws: Workspace) -> None:
    ws.write("in.txt", "x")
    traced = ws.python(
        """
        import os
        data = open("in.txt").read()
        with open("out.tmp", "w") as f:
            f.write(data)
        os.replace("out.tmp", "out.txt")
        open("gone.txt", "w").write("x"); os.remove("gone.txt")
        """,
        tracer="python",
    )
    assert traced.data_inputs == {"in.txt"}
    assert traced.outputs == {"out.txt"}
    assert traced.outcome.job.trace_coverage == "reduced"
    assert traced.outcome.tracer == "python"


def test_a_file_python_renames_is_an_input_under_its_old_name(ws: Workspace) -> None:
    ws.write("inbox.csv", "1,2\n")
    past = time.time() - 60
    os.utime(ws.root / "inbox.csv", (past, past))
    traced = ws.python("import os\nos.rename('inbox.csv', 'done.csv')\n", tracer="python")
    assert traced.data_inputs == {"inbox.csv"}
    assert traced.outputs == {"done.csv"}
    assert traced.hash_of("inbox.csv") == blake3.blake3(b"1,2\n").hexdigest()


def test_python_subprocesses_are_hooked_too(ws: Workspace) -> None:
    ws.write("in.txt", "x")
    ws.script("child.py", "open('child_out.txt', 'w').write(open('in.txt').read())\n")
    traced = ws.python(
        f"import subprocess\nsubprocess.run([{PY!r}, 'child.py'], check=True)\n", tracer="python"
    )
    assert "in.txt" in traced.inputs
    assert traced.outputs == {"child_out.txt"}


def test_documented_gap_non_python_reads_are_not_seen(ws: Workspace) -> None:
    ws.write("a", "shell data\n")
    traced = ws.trace(["sh", "-c", "cat a > b"], tracer="python")
    assert traced.outputs == {"b"}  # the project scan sees the new file
    assert traced.inputs == set()  # ...but not what cat read: strace would
    assert any("reduced coverage" in note for note in traced.outcome.notes)


def test_user_sitecustomize_still_runs(ws: Workspace) -> None:
    site = ws.root / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text("import builtins\nbuiltins.ROAR_TEST_MARK = 42\n")
    traced = ws.python(
        "import builtins\nopen('mark.txt', 'w').write(str(builtins.ROAR_TEST_MARK))\n",
        tracer="python",
        env={"PYTHONPATH": str(site)},
    )
    assert traced.outputs == {"mark.txt"}
    assert (ws.root / "mark.txt").read_text() == "42"
