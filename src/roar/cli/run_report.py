"""`roar run` / `roar build` once parsed: run the job, report it, give its exit code.
Free of click: shared by the click command and the fast path (fast.py)."""

from __future__ import annotations

from roar.capture.git_state import PendingGitState
from roar.cli.say import say_line, say_note, say_warning
from roar.cli.state import CliState
from roar.pathtext import for_display
from roar.run import RunOutcome, RunRequest, run_job
from roar.run.launch import Launched

__all__ = ["run_and_report"]


def _report(outcome: RunOutcome, quiet: bool) -> None:
    for note in outcome.notes:
        say_warning(note)
    if quiet:
        return
    job = outcome.job
    status = "ok" if outcome.exit_code == 0 else f"exit {outcome.exit_code}"
    if job.notes:
        status += f", {job.notes}"
    say_note(
        f"recorded {job.kind} @{job.id} ({job.uid}) {job.step}: {status} in "
        f"{outcome.duration:.2f} s, {len(outcome.inputs)} inputs, {len(outcome.outputs)} outputs"
    )
    for ref in outcome.outputs:
        say_line(f"  wrote {ref.artifact.hash[:12]}  {for_display(ref.path)}")


def run_and_report(
    state: CliState,
    request: RunRequest,
    quiet: bool,
    pending_git: PendingGitState | None = None,
    launched: Launched | None = None,
) -> int:
    project = state.project()
    config = state.config(project)
    outcome = run_job(
        project, config, request, cwd=state.cwd, pending_git=pending_git, launched=launched
    )
    _report(outcome, quiet or config.flag("output.quiet"))
    return outcome.exit_code
