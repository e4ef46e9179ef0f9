#!/usr/bin/env bash
# Debian packages the test suite uses for real: strace (tracer), git, PostgreSQL 15 server
# (store contract suite), gcc (static test binaries, roar's C supervisor loop), Python headers. Installed only when missing, and only
# as root; anyone else gets one line naming the apt-get command to run.
set -euo pipefail

missing=()
command -v strace >/dev/null 2>&1 || missing+=(strace)
command -v git >/dev/null 2>&1 || missing+=(git)
command -v gcc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
# Python's headers: roar's optional C supervisor loop (setup.py) is built against them.
python3 -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
  || missing+=(python3-dev)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 \
  || missing+=(postgresql-15)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "roar tests need Debian packages: ${missing[*]}; run: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
