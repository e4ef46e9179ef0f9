"""Run the suite; a run that collected no tests is a failure, not a pass (pytest exit 5)."""

from __future__ import annotations

import sys

import pytest

NO_TESTS_COLLECTED = 5

code = pytest.main(sys.argv[1:])
if code == NO_TESTS_COLLECTED:
    print("roar: error: pytest collected no tests; refusing to report success", file=sys.stderr)
    code = 1
sys.exit(int(code))
