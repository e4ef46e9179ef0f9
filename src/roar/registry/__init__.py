"""A model registry in Git tags, GTO 1.x's format: versions, stages, lineage links.

`tags` is the grammar, `git` the only git adapter, `state` builds the registry from one
`git for-each-ref` call, `registry` holds the commands and `views` the documents they
print. Start with `open_registry`. The names below load on first use, so that importing
`roar.registry.git` (as the CLI does to start git early) stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from roar.registry.registry import Change, Registry, WriteResult, open_registry

__all__ = ["Change", "Registry", "WriteResult", "open_registry"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from roar.registry import registry

        return getattr(registry, name)
    raise AttributeError(f"module 'roar.registry' has no attribute {name!r}")
