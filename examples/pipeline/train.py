"""Step 2: fit y = a*x + b by least squares on the cleaned data; write it atomically."""

import csv
import json
import os

with open("data/clean.csv", newline="") as source:
    points = [(float(r["x"]), float(r["y"])) for r in csv.DictReader(source)]
n = len(points)
mean_x = sum(x for x, _ in points) / n
mean_y = sum(y for _, y in points) / n
slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / sum(
    (x - mean_x) ** 2 for x, _ in points
)
model = {"slope": round(slope, 6), "intercept": round(mean_y - slope * mean_x, 6), "n": n}
os.makedirs("models", exist_ok=True)
with open("models/model.json.tmp", "w") as target:
    json.dump(model, target, indent=2)
os.replace("models/model.json.tmp", "models/model.json")  # recorded at its final path
print(f"train: slope={model['slope']} intercept={model['intercept']}")
