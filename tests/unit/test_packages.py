"""The package index: which distribution owns an opened file, cached per site directory."""

from __future__ import annotations

import os
from pathlib import Path

from roar.capture.packages import PackageIndex


def _install(site: Path, name: str, version: str, top: str) -> None:
    dist_info = site / f"{name}-{version}.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n"
    )
    (dist_info / "RECORD").write_text(f"{top}/__init__.py,,\n{dist_info.name}/METADATA,,\n")
    (site / top).mkdir(exist_ok=True)


def test_owner_of_an_opened_file(tmp_path: Path) -> None:
    site = tmp_path / "lib" / "python3.11" / "site-packages"
    _install(site, "PyYAML", "6.0.1", "yaml")
    index = PackageIndex()
    opened = [f"{site}/yaml/__init__.py", f"{site}/yaml-missing/x.py", "/etc/passwd"]
    assert index.distributions(opened) == {"PyYAML": "6.0.1"}


def test_the_index_is_kept_until_the_site_directory_changes(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    cache = tmp_path / "package-index.json"
    _install(site, "alpha", "1.0", "alpha")
    first = PackageIndex(cache)
    assert first.distributions([f"{site}/alpha/a.py"]) == {"alpha": "1.0"}
    first.save()
    assert cache.exists()

    # A RECORD edited behind pip's back does not move the directory's mtime: the saved
    # index answers, which proves it was read rather than rebuilt.
    record = next(site.glob("alpha-*.dist-info")) / "RECORD"
    record.write_text("renamed/__init__.py,,\n")
    assert PackageIndex(cache).distributions([f"{site}/alpha/a.py"]) == {"alpha": "1.0"}

    _install(site, "beta", "2.0", "beta")  # a new dist-info moves the site's mtime
    stat = os.stat(site)
    os.utime(site, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    fresh = PackageIndex(cache)
    assert fresh.distributions([f"{site}/beta/b.py", f"{site}/alpha/a.py"]) == {"beta": "2.0"}


def test_a_corrupt_cache_file_is_rebuilt(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    cache = tmp_path / "package-index.json"
    _install(site, "alpha", "1.0", "alpha")
    cache.write_bytes(b"\x00not json")
    index = PackageIndex(cache)
    assert index.distributions([f"{site}/alpha/a.py"]) == {"alpha": "1.0"}
    index.save()
    assert PackageIndex(cache).distributions([f"{site}/alpha/a.py"]) == {"alpha": "1.0"}


def test_versions_and_sites_come_from_one_pass(tmp_path: Path) -> None:
    """A job's packages and the site each was used from: both from the first site a
    distribution was seen in, names in order whatever their case, start-up shims and roar
    left out."""
    venv = tmp_path / "venv" / "lib" / "python3.11" / "site-packages"
    system = tmp_path / "usr" / "lib" / "python3" / "dist-packages"
    _install(venv, "zeta", "1.0", "zeta")
    _install(venv, "Alpha", "2.0", "alpha")
    _install(venv, "roar", "9.9", "roar")
    _install(system, "zeta", "0.5", "zeta")
    opened = [
        f"{venv}/zeta/core.py",
        f"{system}/zeta/core.py",
        f"{venv}/alpha/__init__.py",
        f"{venv}/roar/cli.py",
        f"{venv}/_distutils_hack/__init__.py",
        f"{venv}/distutils-precedence.pth",
        "/tmp/proj/data/site-packages.txt",  # a name, not a site folder
        "/etc/passwd",
    ]
    versions, sites = PackageIndex().used(opened)
    assert list(versions.items()) == [("Alpha", "2.0"), ("zeta", "1.0")]
    assert sites == {"Alpha": str(venv), "zeta": str(venv)}
    assert PackageIndex().distributions(opened) == versions
    assert PackageIndex().sites_of(opened) == sites
