"""The git state kept between task calls is reused only while nothing git looks at moved."""

from __future__ import annotations

import os
import time
from pathlib import Path

from roar.objects import ObjectStore
from roar.project import Project
from roar.tasks.snapshot import code_state
from tests.helpers import git


def test_cached_state_is_reused_until_a_tracked_file_or_a_commit_changes(proj: Path) -> None:
    objects = ObjectStore(Project(proj).objects_dir)
    old = time.time() - 60  # older than the two seconds in which a stat cannot be trusted
    for path in [proj / "train.py", *(proj / ".git").rglob("*")]:
        if path.is_file():
            os.utime(path, (old, old))
    time.sleep(2.1)  # ctime cannot be set back: let it age past the racy window
    first = code_state(proj, objects)
    assert first is not None
    assert first.git.dirty is False
    assert code_state(proj, objects) is first  # nothing moved: no git process

    (proj / "train.py").write_text("print('changed')\n")
    dirty = code_state(proj, objects)
    assert dirty is not None
    assert dirty is not first
    assert dirty.git.dirty is True
    assert dirty.patch_hash is not None
    assert b"changed" in objects.get_bytes(dirty.patch_hash)

    git("commit", "-qam", "second", cwd=proj)
    committed = code_state(proj, objects)
    assert committed is not None
    assert committed.git.commit != first.git.commit
    assert committed.git.dirty is False
