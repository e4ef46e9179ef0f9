"""Fail early, in one line, when the interpreter building .venv is too old for roar."""

import sys

if sys.version_info < (3, 10):
    sys.exit(f"roar needs Python >= 3.10; {sys.executable} is {sys.version.split()[0]} "
             "(run `make PYTHON=python3.11 ...`)")
