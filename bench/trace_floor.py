"""The least a `roar run` built on roar's tracer must cost: trace the command, hash its outputs.

Run as `python bench/trace_floor.py [--hash PATH]... -- COMMAND...` from the workload's
directory. It starts Python, loads the tracer `roar run` would pick here (`auto`) as lightly
as `roar run` loads it before its command starts (run/launch.py: the seccomp tracer alone,
once its probe is cached), runs COMMAND under it, then loads roar's hashing and hashes every
file under each PATH as roar does (BLAKE3; big files on every core), and exits with the
command's exit status. Nothing else of a `roar run` happens: no git state, no store, no
classification, no hash cache, no environment capture, no record.

bench/trace.py runs it as the `floor` column. A target that even this misses cannot be met
on this machine by a roar built from these parts (a Python process, this tracer, which stops
the command at every open, and roar's hashing of what it wrote, which the issue asks for)
that hashes only after the command: roar's tails (run/tail.py) hash big outputs while they
are written, and can come in under it. Elsewhere, what roar costs beyond the floor is its
own bookkeeping.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from roar.trace.probe_cache import cached_probes, probe_key

if TYPE_CHECKING:
    from roar.trace.base import Tracer

PROBE_CACHE = ".trace-floor-probe.json"


def _files(path: str) -> Iterator[str]:
    if os.path.isfile(path):
        yield path
        return
    for folder, _dirs, names in os.walk(path):
        for name in names:
            yield os.path.join(folder, name)


def _hash_all(paths: Sequence[str]) -> int:
    from roar.hashing.digest import hash_file

    count = 0
    for top in paths:
        for path in _files(top):
            hash_file(path)
            count += 1
    return count


def _tracer() -> Tracer:
    """`auto`'s choice; the probe's answer is kept between runs, as roar keeps it in
    .roar/tracer-probe.json."""
    cache = os.path.join(os.getcwd(), PROBE_CACHE)
    works, _why = cached_probes(cache, probe_key()).get("seccomp", (False, ""))
    if works:
        from roar.trace.seccomp_tracer import SeccompTracer

        return SeccompTracer()
    from pathlib import Path

    from roar.trace.choose import choose_tracer

    tracer, _notes = choose_tracer("auto", Path.cwd(), Path(cache))
    return tracer


def main(argv: Sequence[str]) -> int:
    if "--" not in argv:
        print("usage: trace_floor.py [--hash PATH]... -- COMMAND...", file=sys.stderr)
        return 2
    split = list(argv).index("--")
    options, command = list(argv[:split]), list(argv[split + 1 :])
    outputs = [options[i + 1] for i, token in enumerate(options[:-1]) if token == "--hash"]
    tracer = _tracer()
    result = tracer.run(command, cwd=os.getcwd(), env=dict(os.environ))
    if result.exit_code == 0 and _hash_all(outputs) == 0 and outputs:
        print(f"trace_floor: nothing to hash under {outputs}", file=sys.stderr)
        return 2
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
