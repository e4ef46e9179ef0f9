"""Open stores kept between task calls: opening and closing SQLite costs more than a
trivial task's whole budget (connection set-up, schema check, the WAL checkpoint on close).

A call takes a store from the pool and gives it back when done; threads never share one at
the same time. Idle connections are bounded and closed when the process exits; one that
saw an error is closed rather than kept.
"""

from __future__ import annotations

import atexit
import contextlib
import threading
from collections.abc import Iterator

from roar.config import Config
from roar.project import Project
from roar.store import Store

__all__ = ["pooled_store"]

_KEEP = 4  # idle connections kept, over all projects

_lock = threading.Lock()
_idle: list[tuple[str, Store]] = []  # oldest first


def _close_all() -> None:
    with _lock:
        stores = [store for _, store in _idle]
        _idle.clear()
    for store in stores:
        with contextlib.suppress(Exception):
            store.close()


atexit.register(_close_all)


@contextlib.contextmanager
def pooled_store(project: Project, config: Config) -> Iterator[Store]:
    """An open store of `project`, reused from an earlier call when one is idle."""
    url = project.store_url(config)
    key = f"{url.kind}:{url.target}"
    store = None
    with _lock:
        for index in range(len(_idle) - 1, -1, -1):
            if _idle[index][0] == key:
                store = _idle.pop(index)[1]
                break
    if store is None:
        store = project.open_store(config)
    try:
        yield store
    except BaseException:
        store.close()
        raise
    surplus: list[Store] = []
    with _lock:
        _idle.append((key, store))
        while len(_idle) > _KEEP:
            surplus.append(_idle.pop(0)[1])
    for extra in surplus:
        extra.close()
