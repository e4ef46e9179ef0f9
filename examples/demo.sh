#!/usr/bin/env bash
# The main job: a 3-step pipeline (preprocess -> train -> evaluate) run under roar in a
# throwaway git project, ending with `roar log`. `make demo` runs it with .venv/bin on PATH.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
workdir=$(mktemp -d "${TMPDIR:-/tmp}/roar-demo.XXXXXX")
trap 'rm -rf "$workdir"' EXIT
cd "$workdir"
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

cp "$here"/pipeline/*.py .
git init -q
git add ./*.py
git -c user.name=demo -c user.email=demo@roar.invalid commit -q -m "pipeline code"

# Source data (not produced by any step): 200 noisy points of y = 3x + 1, plus a bad row.
python3 - <<'PY'
import csv, os, random
random.seed(7)
os.makedirs("data", exist_ok=True)
with open("data/raw.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["x", "y"])
    for _ in range(200):
        x = random.uniform(0, 10)
        w.writerow([f"{x:.4f}", f"{3 * x + 1 + random.gauss(0, 0.5):.4f}"])
    w.writerow(["oops", "not-a-number"])
PY

step roar init
step roar tracer check
step roar run python3 preprocess.py
step roar run python3 train.py
step roar run python3 evaluate.py
step cat reports/metrics.json
echo
step roar log
step git status --short
echo "demo finished: 3 jobs recorded; .roar/ never shows in git status (it ignores itself)"
