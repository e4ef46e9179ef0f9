"""A model registry in Git tags, GTO 1.x's format: versions, stages, lineage links.

`tags` is the grammar, `git` the only git adapter, `state` builds the registry from one
`git for-each-ref` call, `registry` holds the commands and `views` the documents they
print. Start with `open_registry`.
"""

from __future__ import annotations

from roar.registry.registry import Change, Registry, WriteResult, open_registry

__all__ = ["Change", "Registry", "WriteResult", "open_registry"]
