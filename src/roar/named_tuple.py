"""`NamedTuple` for roar's record types: typing.NamedTuple to type checkers, a plain
collections.namedtuple at run time.

typing.NamedTuple checks every field's annotation as the class is made; with postponed
annotations each one is a string compiled into a ForwardRef, which roar never reads. The
record types `roar run` loads cost ~10 ms of its fixed cost that way (A/B over 40 runs of
`roar run true`: 134 -> 124 ms of CPU). This makes the same tuple class from the same
class statement without those checks: fields, defaults, methods, properties and the
docstring as typing.NamedTuple keeps them. Only the class syntax is supported.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING: importing typing here is what this avoids
if TYPE_CHECKING:
    from typing import NamedTuple as NamedTuple
else:
    import collections

    # As typing.NamedTuple: names a class body may not set, and names it does not copy.
    _PROHIBITED = frozenset(
        ("__new__", "__init__", "__slots__", "__getnewargs__", "_fields", "_field_defaults",
         "_make", "_replace", "_asdict", "_source")
    )  # fmt: skip
    _SPECIAL = frozenset(("__module__", "__name__", "__annotations__"))

    class _NamedTupleMeta(type):
        def __new__(mcls, typename, bases, namespace):
            annotations = namespace.get("__annotations__", {})
            defaults = []
            for name in annotations:
                if name in namespace:
                    defaults.append(namespace[name])
                elif defaults:
                    raise TypeError(
                        f"Non-default namedtuple field {name} cannot follow default fields"
                    )
            made = collections.namedtuple(
                typename, annotations, defaults=defaults, module=namespace["__module__"]
            )
            made.__annotations__ = dict(annotations)
            for key, value in namespace.items():
                if key in _PROHIBITED:
                    raise AttributeError("Cannot overwrite NamedTuple attribute " + key)
                if key not in _SPECIAL and key not in made._fields:
                    setattr(made, key, value)
            return made

    _NamedTupleBase = type.__new__(_NamedTupleMeta, "NamedTuple", (), {})

    def NamedTuple(typename, fields=None, /, **kwargs):  # noqa: N802 - typing's name
        raise TypeError("roar.named_tuple.NamedTuple supports only the class syntax")

    # `class X(NamedTuple)`: the class statement takes its base from here, as with typing's.
    NamedTuple.__mro_entries__ = lambda bases: (_NamedTupleBase,)

__all__ = ["NamedTuple"]
