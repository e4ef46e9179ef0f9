#!/usr/bin/env bash
# The main job, until `roar run` lands: a throwaway project that shows init, config and
# the cached hasher. `make demo` runs it with .venv/bin first on PATH.
set -euo pipefail

workdir=$(mktemp -d "${TMPDIR:-/tmp}/roar-demo.XXXXXX")
trap 'rm -rf "$workdir"' EXIT
cd "$workdir"
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

git init -q
git -c user.name=demo -c user.email=demo@roar.invalid commit -q --allow-empty -m "empty"
step roar init
step roar config set output.quiet false
step roar config list

mkdir -p data
python3 - <<'PY'
import os
os.makedirs("data/shards", exist_ok=True)
for i in range(200):
    with open(f"data/shards/part-{i:03d}.bin", "wb") as fh:
        fh.write(os.urandom(16 * 1024))
with open("data/weights.bin", "wb") as fh:
    fh.write(os.urandom(64 << 20))
PY
echo "waiting 2 s: the hash cache never trusts files changed in the last 2 s"
sleep 2.1
step roar hash data/weights.bin data/shards
start=$(date +%s%N)
step roar hash data/weights.bin data/shards
end=$(date +%s%N)
echo "second pass (from the cache): $(( (end - start) / 1000000 )) ms"
step git status --short
echo "demo finished: .roar/ never shows in git status (it ignores itself)"
