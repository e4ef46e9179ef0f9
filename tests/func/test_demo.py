"""`make demo`'s script runs end to end against the installed roar."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_demo_script_runs(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    env["TMPDIR"] = str(tmp_path)
    proc = subprocess.run(
        ["bash", str(REPO / "examples" / "demo.sh")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "created roar project" in proc.stdout
    for number, step in ((1, "preprocess"), (2, "train"), (3, "evaluate")):
        assert f"recorded run @{number} " in proc.stderr
        assert f"@{number} " in proc.stdout  # in the closing `roar log`
        assert step in proc.stdout
    assert '"rows": 200' in proc.stdout
    assert "demo finished" in proc.stdout
    assert list(tmp_path.iterdir()) == []  # the throwaway project is gone
