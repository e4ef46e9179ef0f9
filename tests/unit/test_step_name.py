"""The default step name of `roar run CMD`: what a person would call the step."""

from __future__ import annotations

import pytest

from roar.run.command import step_name


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["python", "train.py"], "train"),
        (["python3.11", "-u", "src/prep.py", "--fast"], "prep"),
        (["python", "-m", "pkg.evaluate"], "evaluate"),
        (["./eval.sh"], "eval"),
        (["bash", "script.sh"], "script"),
        (["uv", "run", "python", "train.py"], "train"),
        (["env", "CUDA_VISIBLE_DEVICES=0", "python", "x.py"], "x"),
        (["make", "-C", "native"], "make"),
        # shell scripts: the first command that is not a shell builtin or an assignment
        (["sh", "-c", "cd src && python train.py --epochs 3"], "train"),
        (["bash", "-c", "FOO=1 python prep.py"], "prep"),
        (["bash", "-lc", "make all"], "make"),
        (["sh", "-ec", "python3 -m tools.eval"], "eval"),
        (["sh", "-c", "set -e; ./run.sh; python t.py"], "run"),
        (["sh", "-c", "echo x > y"], "sh"),  # only builtins: the shell's name
        (["python", "-c", "import sys"], "python"),  # inline code has no better name
    ],
)
def test_default_step_names(argv: list[str], expected: str) -> None:
    assert step_name(argv) == expected
