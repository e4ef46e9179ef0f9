"""Which installed distributions a job really used, from the files it opened.

A file under `.../site-packages/NAME/...` belongs to the distribution whose RECORD lists
`NAME/...`. A site directory is indexed by reading its `*.dist-info` folders, so this
works for any interpreter the job ran (a venv, conda, the system Python) without importing
anything into it. Reading every RECORD of a big environment takes tens of milliseconds,
so the index is kept in a file and rebuilt only when the site directory's mtime moves,
which installing, upgrading or removing a distribution always does.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path

from roar.fsutil import atomic_write_bytes

__all__ = ["PackageIndex", "python_versions_from_paths", "site_split"]

_SITE_MARKERS = ("/site-packages/", "/dist-packages/")
_OWN = {"roar"}  # roar's own distribution never appears in a job's environment
# Imported by .pth files at every interpreter start, whatever the job does.
_STARTUP_SHIMS = {"_distutils_hack", "_virtualenv", "_virtualenv.py"}
_STDLIB = re.compile(r"/lib/python(\d+\.\d+)/")


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def site_split(path: str) -> tuple[str, str] | None:
    """('/x/lib/python3.11/site-packages', 'numpy/core/x.py') or None."""
    for marker in _SITE_MARKERS:
        index = path.find(marker)
        if index >= 0:
            cut = index + len(marker)
            return path[: cut - 1], path[cut:]
    return None


def _read_metadata(dist_info: Path) -> tuple[str, str] | None:
    try:
        with open(dist_info / "METADATA", encoding="utf-8", errors="replace") as handle:
            name = version = None
            for line in handle:
                if line.startswith("Name:"):
                    name = line[5:].strip()
                elif line.startswith("Version:"):
                    version = line[8:].strip()
                if name and version or line == "\n":
                    break
    except OSError:
        return None
    return (name, version) if name and version else None


def _top_levels(dist_info: Path) -> set[str]:
    tops = {dist_info.name}
    try:
        with open(dist_info / "RECORD", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                first = line.split(",", 1)[0].split("/", 1)[0]
                if first and not first.startswith(".."):
                    tops.add(first)
    except OSError:
        pass
    return tops


class PackageIndex:
    """Maps opened files to (distribution, version); site directories indexed lazily."""

    def __init__(self, cache_file: Path | None = None) -> None:
        self._sites: dict[str, dict[str, tuple[str, str]]] = {}
        self._cache_file = cache_file
        self._saved = self._load() if cache_file is not None else {}
        self._dirty = False

    def _load(self) -> dict[str, tuple[int, dict[str, tuple[str, str]]]]:
        assert self._cache_file is not None
        with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
            raw = json.loads(self._cache_file.read_text())
            return {
                site: (
                    int(entry["mtime_ns"]),
                    {k: (v[0], v[1]) for k, v in entry["owners"].items()},
                )
                for site, entry in raw.items()
            }
        return {}

    def save(self) -> None:
        """Keep what was indexed for the next run (best effort: a cache, not a record)."""
        if self._cache_file is None or not self._dirty:
            return
        payload = {
            site: {"mtime_ns": mtime, "owners": owners}
            for site, (mtime, owners) in self._saved.items()
        }
        with contextlib.suppress(OSError):
            atomic_write_bytes(self._cache_file, json.dumps(payload).encode())

    def _index(self, site: str) -> dict[str, tuple[str, str]]:
        owners = self._sites.get(site)
        if owners is not None:
            return owners
        try:
            mtime = os.stat(site).st_mtime_ns
        except OSError:
            mtime = -1
        saved = self._saved.get(site)
        if saved is not None and saved[0] == mtime:
            owners = saved[1]
        else:
            owners = _scan_site(site)
            self._saved[site] = (mtime, owners)
            self._dirty = True
        self._sites[site] = owners
        return owners

    def used(self, paths: Iterable[str]) -> tuple[dict[str, str], dict[str, str]]:
        """({distribution name: version}, {distribution name: the site directory it was
        used from}) for every distribution owning one of `paths`, in one pass over them."""
        versions: dict[str, str] = {}
        sites: dict[str, str] = {}
        for path in paths:
            if "-packages/" not in path:  # most of a job's files: one check, not two finds
                continue
            split = site_split(path)
            if split is None:
                continue
            site, relative = split
            top = relative.split("/", 1)[0]
            if _startup_only(top):
                continue
            owner = self._index(site).get(top)
            if owner is None or _normalize(owner[0]) in _OWN:
                continue
            # the first site a distribution was used from gives both its version and its
            # site (two installs of it in one job: the one imported first)
            if owner[0] not in versions:
                versions[owner[0]] = owner[1]
                sites[owner[0]] = site
        by_name = sorted(versions.items(), key=lambda item: item[0].lower())
        return dict(by_name), dict(sorted(sites.items()))

    def distributions(self, paths: Iterable[str]) -> dict[str, str]:
        """{distribution name: version} for every distribution owning one of `paths`."""
        return self.used(paths)[0]

    def sites_of(self, paths: Iterable[str]) -> dict[str, str]:
        """{distribution name: the site directory it was used from} for `paths`."""
        return self.used(paths)[1]

    def installed(self, site: str) -> dict[str, str]:
        """{distribution name: version} installed in `site` now (empty when it is gone)."""
        return {name: version for name, version in self._index(site).values()}


def _scan_site(site: str) -> dict[str, tuple[str, str]]:
    owners: dict[str, tuple[str, str]] = {}
    try:
        entries = [e for e in os.scandir(site) if e.name.endswith(".dist-info")]
    except OSError:
        entries = []
    for entry in sorted(entries, key=lambda e: e.name):
        dist_info = Path(entry.path)
        meta = _read_metadata(dist_info)
        if meta is None:
            continue
        for top in _top_levels(dist_info):
            owners.setdefault(top, meta)
    return owners


def _startup_only(top: str) -> bool:
    """Files every interpreter opens at start-up or metadata scans: not real use."""
    return (
        top in _STARTUP_SHIMS
        or top.endswith((".pth", ".dist-info", ".egg-info"))
        or top == "__pycache__"
    )


def python_versions_from_paths(paths: Iterable[str]) -> list[str]:
    """X.Y of every Python whose standard library or site-packages the job opened."""
    return sorted({m.group(1) for p in paths if (m := _STDLIB.search(p))})
