"""Step 1: clean the raw measurements (drop malformed rows, scale x to [0, 1])."""

import csv
import os

os.makedirs("data", exist_ok=True)
rows = []
with open("data/raw.csv", newline="") as source:
    for row in csv.DictReader(source):
        try:
            rows.append((float(row["x"]), float(row["y"])))
        except (KeyError, ValueError):
            continue  # malformed row
low = min(x for x, _ in rows)
high = max(x for x, _ in rows)
with open("data/clean.csv", "w", newline="") as target:
    writer = csv.writer(target)
    writer.writerow(["x", "y"])
    for x, y in rows:
        writer.writerow([f"{(x - low) / (high - low):.6f}", f"{y:.6f}"])
print(f"preprocess: kept {len(rows)} rows")
