"""Names that exist for type checkers only (roar does not import typing at run time):
each is held to the run-time value it stands for."""

from __future__ import annotations

import ast
import inspect
from typing import Literal, get_args

import roar.trace.choose as choose


def _literal_in_type_checking_block(module: object, name: str) -> tuple[str, ...]:
    """The strings of `NAME = Literal[...]` inside the module's `if TYPE_CHECKING:`."""
    tree = ast.parse(inspect.getsource(module))  # type: ignore[arg-type]
    for node in tree.body:
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for statement in node.body:
                if (
                    isinstance(statement, ast.Assign)
                    and getattr(statement.targets[0], "id", None) == name
                ):
                    literal = eval(ast.unparse(statement.value), {"Literal": Literal})  # noqa: S307
                    return get_args(literal)
    raise AssertionError(f"{name} is not defined for type checkers")


def test_the_tracer_names_the_cli_offers_are_the_type_s() -> None:
    assert _literal_in_type_checking_block(choose, "TracerName") == choose.TRACER_NAMES


def test_the_hashing_protocols_load_when_asked_for() -> None:
    import roar.hashing
    from roar.hashing.cache import HashCache, ProgressSink

    assert roar.hashing.HashCache is HashCache
    assert roar.hashing.ProgressSink is ProgressSink
