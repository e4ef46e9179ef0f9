"""roar: Run Observation & Artifact Registration.

Record what ML jobs read, wrote and ran; trace, reproduce, register and checkpoint the
artifacts they made. The library is the product; the `roar` command is a thin layer on it.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
