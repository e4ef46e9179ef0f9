"""Every serializer round-trips, in this process and a new one; nesting keeps its shape;
identical content is stored once."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import roar
from roar.project import Project
from roar.store import Store
from tests.tasks.conftest import run_python


def _artifact_meta(root: Path, digest: str) -> dict[str, Any]:
    with Store.open(f"sqlite:///{root / '.roar' / 'roar.db'}") as store:
        return dict(store.get_artifact(digest).meta)


@roar.task
def identity(value: Any) -> Any:
    return value


def test_pandas_frame_goes_to_parquet_and_back(proj: Path) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]}, index=[10, 20, 30])
    artifact = identity(frame)
    assert artifact.serializer == "pandas-parquet"
    assert artifact.object_path.read_bytes()[:4] == b"PAR1"
    pd.testing.assert_frame_equal(artifact.load(), frame)
    assert _artifact_meta(proj, artifact.hash) == {
        "serializer": "pandas-parquet",
        "ext": ".parquet",
        "type": "pandas.DataFrame",
    }


def test_a_frame_parquet_refuses_falls_back_to_pickle(proj: Path) -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({1: [1.5, 2.5], 2: [object(), None]})  # int names, object cells
    artifact = identity(frame)
    assert artifact.serializer == "pickle"
    assert list(artifact.load().columns) == [1, 2]


def test_numpy_array_is_npy(proj: Path) -> None:
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    artifact = identity(array)
    assert (artifact.serializer, artifact.ext) == ("numpy", ".npy")
    assert artifact.object_path.read_bytes()[:6] == b"\x93NUMPY"
    loaded = artifact.load()
    assert loaded.dtype == np.float32
    np.testing.assert_array_equal(loaded, array)


def test_torch_tensor_and_module_use_torch_save(proj: Path) -> None:
    torch = pytest.importorskip("torch", reason="torch is not installed")
    tensor = torch.arange(6.0).reshape(2, 3)
    layer = torch.nn.Linear(3, 2)
    out = identity([tensor, layer])
    assert [a.serializer for a in out] == ["torch", "torch"]
    assert torch.equal(out[0].load(), tensor)
    loaded = out[1].load()
    assert isinstance(loaded, torch.nn.Linear)
    assert torch.equal(loaded.weight, layer.weight)


def test_matplotlib_figure_is_a_png(proj: Path) -> None:
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(2, 1), dpi=50)
    figure.add_subplot().plot([0, 1], [1, 0])
    artifact = identity(figure)
    assert (artifact.serializer, artifact.ext) == ("matplotlib-png", ".png")
    image = artifact.load()
    assert image.data[:8] == b"\x89PNG\r\n\x1a\n"
    assert image._repr_png_() == image.data
    assert image.to_array().shape == (50, 100, 4)


@pytest.mark.parametrize("value", [3, 2.5, "text", True, float("nan")])
def test_json_scalars_are_json(proj: Path, value: Any) -> None:
    artifact = identity(value)
    assert artifact.serializer == "json"
    loaded = artifact.load()
    assert type(loaded) is type(value)
    assert loaded == value or (value != value and loaded != loaded)  # NaN


def test_anything_else_is_pickled(proj: Path) -> None:
    value = {1: "int keys are not JSON", 2: frozenset({3})}
    artifact = identity(value)
    assert artifact.serializer == "pickle"
    assert artifact.load() == value
    assert identity(np.float64(1.5)).load().dtype == np.float64  # no silent float()


class Point:
    def __init__(self, x: int, y: int) -> None:
        self.x, self.y = x, y


def test_registered_serializer_wins_and_loads_in_a_new_process(proj: Path) -> None:
    (proj / "points.py").write_text(
        "import roar\n"
        "class Point:\n"
        "    def __init__(self, x, y):\n"
        "        self.x, self.y = x, y\n"
        "def save(p, f):\n"
        "    f.write(f'{p.x},{p.y}'.encode())\n"
        "def load(f):\n"
        "    return Point(*map(int, f.read().split(b',')))\n"
        "roar.register_serializer(Point, save, load, 'pt2')\n"
    )
    out = run_python(
        """
        import roar
        from points import Point
        a = roar.task(lambda p: p)(Point(3, 4))
        print(a.run_id, a.serializer, a.ext, a.object_path.read_text())
        """,
        proj,
    )
    run_id, name, ext, content = out.split()
    assert (name, ext, content) == ("custom:points.Point", ".pt2", "3,4")
    # A new process that never imported points: roar imports it to find the serializer.
    loaded = run_python(
        f"import roar\np = roar.out({run_id}).load()\nprint(type(p).__name__, p.x, p.y)", proj
    )
    assert loaded.split() == ["Point", "3", "4"]


def test_a_custom_type_not_registered_where_it_is_loaded_says_so(proj: Path) -> None:
    roar.register_serializer(Point, lambda p, f: f.write(b"p"), lambda f: Point(0, 0), ".p")
    artifact = identity(Point(1, 2))
    fresh = run_python(
        f"""
        import roar
        try:
            roar.out({artifact.run_id}).load()
        except roar.errors.DeserializationFailed as exc:
            print(exc)
        """,
        proj,
    )
    assert "no serializer named 'custom:tests.tasks.test_serializers.Point'" in fresh
    assert "roar.register_serializer(Point, save, load, ext)" in fresh


@roar.task
def nested() -> Any:
    return {"arrays": [np.zeros(2), np.ones(2)], "pair": (1, "b"), "none": None, "deep": {"x": 1}}


def test_nested_results_keep_their_shape(proj: Path) -> None:
    result = nested()
    assert isinstance(result["arrays"], list)
    assert isinstance(result["pair"], tuple)
    assert result["none"] is None
    assert result["deep"]["x"].load() == 1
    assert result["arrays"][1].path == "task:nested/out/arrays/1"
    np.testing.assert_array_equal(result["arrays"][1].load(), np.ones(2))
    again = roar.out(result["deep"]["x"].run_id)
    assert type(again["pair"]) is tuple
    assert again["pair"][1].load() == "b"
    assert again["none"] is None


def test_identical_content_is_stored_once(proj: Path) -> None:
    first = identity(np.arange(1000))
    second = identity(np.arange(1000))
    assert first.hash == second.hash
    assert first.run_id != second.run_id
    objects = Project(proj).objects_dir
    stored = [p for p in objects.rglob("*") if p.is_file() and first.hash[2:] == p.name]
    assert len(stored) == 1
    assert not [p for p in objects.iterdir() if p.name.startswith(".staging-")]
    assert oct(os.stat(stored[0]).st_mode & 0o777) == oct(0o444)


def test_artifact_meta_round_trips_through_out(proj: Path) -> None:
    artifact = identity([1, [2, 3]])
    again = roar.out(artifact[0].run_id)
    assert json.dumps([a.load() for a in [again[0], *again[1]]]) == "[1, 2, 3]"
