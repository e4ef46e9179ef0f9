"""What `roar run` tells the processes of its command, through their environment.

Here, below every layer that reads or sets them, so that the command can be started before
the store and the journal modules have loaded (run/launch.py).
"""

from __future__ import annotations

__all__ = ["JOURNAL_ENV", "PARENT_UID_ENV", "journal_file", "new_job_uid"]

#: The uid the job will be recorded under: a task recorded inside it names that uid, and
#: the job adopts it as a child when it is recorded.
PARENT_UID_ENV = "ROAR_PARENT_JOB_UID"

#: The file the processes under the job append journal entries to (capture/journal.py).
JOURNAL_ENV = "ROAR_LINEAGE_JOURNAL"


def journal_file(roar_dir: str, uid: str) -> str:
    """The journal of job `uid` (its folder made if missing), as JOURNAL_ENV names it."""
    import os

    journals = os.path.join(roar_dir, "journals")
    os.makedirs(journals, exist_ok=True)
    return os.path.join(journals, f"{uid}.jsonl")


def new_job_uid() -> str:
    """A fresh 48-bit job uid (12 hex digits), as `record_job` draws them."""
    import os

    return os.urandom(6).hex()
