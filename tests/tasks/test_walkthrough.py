"""terra's walkthrough, offline: load_iris -> split_data -> train_model -> test_model,
passing Artifacts; then a new process loads every result, and the CLI shows the lineage."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import run_roar
from tests.tasks.conftest import run_python

PIPELINE = '''
import numpy as np
import pandas as pd
import roar


@roar.task
def load_iris(path):
    """Read the iris measurements."""
    return pd.read_csv(path)


@roar.task
def split_data(df, test_frac=0.3, seed=0):
    order = np.random.default_rng(seed).permutation(len(df))
    cut = int(len(df) * (1 - test_frac))
    return df.iloc[order[:cut]], df.iloc[order[cut:]]


@roar.task(owner="ana", tags=["baseline"])
def train_model(train):
    """Nearest centroid: one mean per species."""
    features = train.drop(columns="species")
    return {name: group.mean().to_numpy() for name, group in features.groupby(train.species)}


@roar.task
def test_model(model, test):
    names = sorted(model)
    centroids = np.stack([model[n] for n in names])
    x = test.drop(columns="species").to_numpy()
    guess = np.array(names)[((x[:, None, :] - centroids) ** 2).sum(-1).argmin(1)]
    return {"accuracy": float((guess == test.species.to_numpy()).mean()), "n": len(test)}


df = load_iris(roar.File("iris.csv"))
train, test = split_data(df, test_frac=0.3)
model = train_model(train)
metrics = test_model(model, test)
print(json.dumps({"metrics": metrics["accuracy"].hash, "runs": [
    a.run_id for a in (df, train, model["setosa"], metrics["accuracy"])]}))
'''


def _iris(path: Path) -> None:
    rows = ["sepal,petal,species"]
    for i in range(30):
        rows.append(f"{5.0 + (i % 5) * 0.1:.1f},{1.4 + (i % 3) * 0.1:.1f},setosa")
        rows.append(f"{6.5 + (i % 5) * 0.1:.1f},{5.5 + (i % 3) * 0.1:.1f},virginica")
    path.write_text("\n".join(rows) + "\n")


def test_terra_walkthrough_across_processes_and_in_the_cli(proj: Path) -> None:
    _iris(proj / "iris.csv")
    (proj / "pipeline.py").write_text("import json\n" + PIPELINE)
    made = json.loads(run_python("exec(open('pipeline.py').read())", proj).splitlines()[-1])
    assert made["runs"] == [1, 2, 3, 4]

    loaded = json.loads(
        run_python(
            """
            import json, roar
            df = roar.out(run_id=1).load()
            train, test = (a.load() for a in roar.out(2))
            model = {k: v.load().tolist() for k, v in roar.out(3).items()}
            metrics = {k: v.load() for k, v in roar.out(4).items()}
            print(json.dumps({"rows": len(df), "split": [len(train), len(test)],
                              "model": sorted(model), "metrics": metrics,
                              "inp": roar.inp(2)["test_frac"]}))
            """,
            proj,
        )
    )
    assert loaded == {
        "rows": 60,
        "split": [42, 18],
        "model": ["setosa", "virginica"],
        "metrics": {"accuracy": 1.0, "n": 18},
        "inp": 0.3,
    }

    tree = run_roar("trace", made["metrics"][:16], cwd=proj)
    assert tree.code == 0, tree.stderr
    # Upstream of the metric: test_model, then train_model/split_data/load_iris, iris.csv.
    lines = tree.stdout
    for step in ("test_model", "train_model", "split_data", "load_iris"):
        assert f" {step} [task, ok]" in lines, lines
    assert "iris.csv" in lines
    graph = json.loads(run_roar("trace", made["metrics"], "--format", "json", cwd=proj).stdout)
    assert [job["step"] for job in graph["jobs"]] == [
        "load_iris",
        "split_data",
        "train_model",
        "test_model",
    ]

    log = run_roar("log", "--json", cwd=proj)
    rows = json.loads(log.stdout)
    assert [(r["id"], r["kind"], r["step"], r["exit_code"]) for r in rows] == [
        (4, "task", "test_model", 0),
        (3, "task", "train_model", 0),
        (2, "task", "split_data", 0),
        (1, "task", "load_iris", 0),
    ]
    show = json.loads(run_roar("show", "@3", "--json", cwd=proj).stdout)
    assert show["owner"] == "ana"
    assert show["tags"] == ["baseline"]
    assert show["description"] == "Nearest centroid: one mean per species."
    assert [f["path"] for f in show["inputs"]] == ["task:split_data/out/0"]
    assert [f["path"] for f in show["outputs"]] == [
        "task:train_model/out/setosa",
        "task:train_model/out/virginica",
    ]
    (proj / "sub").mkdir()
    by_path = json.loads(
        run_roar("show", "task:split_data/out/1", "--json", cwd=proj / "sub").stdout
    )
    assert (by_path["produced_by"], by_path["consumed_by"]) == ([2], [4])
    split = json.loads(run_roar("show", "@2", "--json", cwd=proj).stdout)
    assert split["params"] == {"test_frac": 0.3, "seed": 0}
