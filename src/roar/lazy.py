"""Names of a package loaded on first use (a module `__getattr__`, PEP 562).

`roar run` imports a few of roar's packages before its command starts; their `__init__`
must not import everything the package offers. Each such package names where its
attributes live, lists them under `TYPE_CHECKING` for type checkers, and sets
`__getattr__ = lazy_names(__name__, homes)`.
"""

from __future__ import annotations

import importlib
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = ["lazy_names"]


def lazy_names(package: str, homes: Mapping[str, str]) -> Callable[[str], object]:
    """A `__getattr__` for `package` that imports each name of `homes` (name -> module)
    from its module when first asked for, and keeps it in the package."""

    def load(name: str) -> object:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        setattr(sys.modules[package], name, value)
        return value

    return load
