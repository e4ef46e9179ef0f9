"""The integrations load their framework lazily: `roar.checkpoints` imports none, and a
missing framework is one line naming the extra to install (an ImportError too)."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _python(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout


@pytest.mark.parametrize(
    ("adapter", "blocked", "missing", "extra"),
    [
        ("lightning", "lightning", "lightning", "lightning"),
        ("huggingface", "transformers", "transformers", "huggingface"),
        ("ray", "ray", "ray.train", "ray"),
    ],
)
def test_a_missing_framework_names_the_extra(
    adapter: str, blocked: str, missing: str, extra: str
) -> None:
    out = _python(
        f"import sys; sys.modules[{blocked!r}] = None\n"
        "try:\n"
        f"    import roar.checkpoints.integrations.{adapter}\n"
        "except ImportError as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    assert out.startswith(f"IntegrationUnavailable cannot import {missing} (")
    assert out.rstrip().endswith(f"install it with pip install 'roar[{extra}]'")
    assert out.count("\n") == 1


def test_importing_roar_checkpoints_loads_no_framework() -> None:
    out = _python(
        "import sys, roar.checkpoints, roar.checkpoints.integrations\n"
        "roar.checkpoints.latest_checkpoint\n"
        "print(sorted(m for m in ('lightning', 'pytorch_lightning', 'transformers', 'ray', "
        "'torch') if m in sys.modules))\n"
    )
    assert out.strip() == "[]"
