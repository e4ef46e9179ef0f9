"""Is what a task is about to read out of date? (mltrace's staleness warnings)

An artifact is stale when the step that made it has run successfully since and made
something else (a newer run that made the very same bytes changes nothing), or when it
was made longer ago than `tasks.staleness_days` (0 turns that check off).
"""

from __future__ import annotations

import time

from roar.store import Store
from roar.tasks.artifact import Artifact

__all__ = ["stale_inputs_warning"]

_DAY_S = 86_400.0


def stale_inputs_warning(
    store: Store, task: str, consumed: list[Artifact], max_days: int, now: float | None = None
) -> str | None:
    """One warning naming every stale artifact in `consumed`, or None."""
    now = time.time() if now is None else now
    unique = {(a.hash, a.run_id): a for a in consumed}
    producers = store.jobs_by_ids(sorted({a.run_id for a in unique.values()}))
    found: list[str] = []
    for artifact in unique.values():
        producer = producers.get(artifact.run_id)
        if producer is None:
            continue
        reasons = []
        same_bytes = set(store.jobs_touching(artifact.hash)[0])
        since = store.successful_runs_after(producer.step, producer.id)
        newer = [j for j in since if j not in same_bytes]
        if newer:
            runs = ", ".join(f"@{j}" for j in newer)
            reasons.append(f"{producer.step} has run since: {runs}")
        made = producer.ended_at or producer.started_at
        age_days = (now - made) / _DAY_S
        if max_days > 0 and age_days > max_days:
            reasons.append(
                f"made {age_days:.0f} days ago, more than tasks.staleness_days = {max_days}"
            )
        if reasons:
            found.append(f"{artifact.path} from @{producer.id} ({'; '.join(reasons)})")
    if not found:
        return None
    return f"{task} reads stale artifacts: " + ", ".join(found)
