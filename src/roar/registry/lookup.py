"""Registry references for lineage commands: `NAME@vX.Y.Z`, `NAME@latest` and `NAME#STAGE`
name the content hash their registration recorded (the `roar-hash:` trailer)."""

from __future__ import annotations

from pathlib import Path

from roar.errors import RegistryError
from roar.registry.registry import open_registry
from roar.registry.tags import parse_ref

__all__ = ["registered_hash"]


def registered_hash(text: str, start: Path) -> str | None:
    """The hash `text` names in the git repository holding `start`; None when `text` is
    not a registry reference. A reference that resolves to no hash is an error."""
    ref = parse_ref(text)
    if ref is None:
        return None
    with open_registry(start) as registry:
        version = registry.resolve(ref)
    if version.digest is None:
        tag = version.registration.tag if version.registration else version.version
        raise RegistryError(
            f"{text} is {tag}, which records no content hash; register versions with "
            "--path or --hash to link them to lineage"
        )
    return version.digest
