"""roar.named_tuple.NamedTuple makes the tuple class typing.NamedTuple makes, only cheaper."""

from __future__ import annotations

import pickle
import typing

import pytest

from roar.named_tuple import NamedTuple


class Point(NamedTuple):
    """A point."""

    x: int
    y: int = 0
    label: str | None = None

    @property
    def norm1(self) -> int:
        return abs(self.x) + abs(self.y)

    def moved(self, dx: int) -> Point:
        return self._replace(x=self.x + dx)

    @classmethod
    def origin(cls) -> Point:
        return cls(0)


class TypingPoint(typing.NamedTuple):
    """A point."""

    x: int
    y: int = 0
    label: str | None = None


def test_the_same_tuple_as_typing_makes() -> None:
    p = Point(3, -4)
    assert p == (3, -4, None)
    assert isinstance(p, tuple)
    assert Point._fields == TypingPoint._fields == ("x", "y", "label")
    assert Point._field_defaults == TypingPoint._field_defaults == {"y": 0, "label": None}
    assert repr(p) == "Point(x=3, y=-4, label=None)"
    assert Point.__doc__ == TypingPoint.__doc__ == "A point."
    assert Point.__module__ == TypingPoint.__module__ == __name__
    assert Point.__qualname__ == "Point"
    assert set(Point.__annotations__) == {"x", "y", "label"}
    assert Point(3, -4)._asdict() == {"x": 3, "y": -4, "label": None}
    assert Point._make([1, 2, "a"]) == Point(1, 2, "a")
    x, y, label = p
    assert (x, y, label) == (3, -4, None)


def test_methods_properties_and_classmethods_are_kept() -> None:
    p = Point(3, -4)
    assert p.norm1 == 7
    assert p.moved(2) == Point(5, -4)
    assert Point.origin() == Point(0, 0, None)
    with pytest.raises(AttributeError):
        p.x = 1  # type: ignore[misc]


def test_pickles_by_reference() -> None:
    p = Point(1, 2, "a")
    assert pickle.loads(pickle.dumps(p)) == p
    assert type(pickle.loads(pickle.dumps(p))) is Point


def test_refuses_what_typing_refuses() -> None:
    with pytest.raises(TypeError, match="Non-default namedtuple field y"):

        class Bad(NamedTuple):
            x: int = 0
            y: int  # type: ignore[misc]

    with pytest.raises(AttributeError, match="_replace"):

        class Worse(NamedTuple):
            x: int

            def _replace(self) -> None: ...  # type: ignore[misc]

    with pytest.raises(TypeError, match="class syntax"):
        NamedTuple("P", [("x", int)])
