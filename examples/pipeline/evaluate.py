"""Step 3: score the model on the cleaned data (mean absolute error)."""

import csv
import json
import os

with open("models/model.json") as source:
    model = json.load(source)
with open("data/clean.csv", newline="") as source:
    points = [(float(r["x"]), float(r["y"])) for r in csv.DictReader(source)]
errors = [abs(model["slope"] * x + model["intercept"] - y) for x, y in points]
os.makedirs("reports", exist_ok=True)
with open("reports/metrics.json", "w") as target:
    json.dump({"mae": round(sum(errors) / len(errors), 6), "rows": len(points)}, target)
print(f"evaluate: mae={sum(errors) / len(errors):.4f}")
