"""How an ended job is summed up in one line on the Compare page, e.g. "finished: 91.2% …"."""

from __future__ import annotations

from typing import Any

from core.jobs.job import JobState
from core.jobs.sweeps import stopped_early_reason
from core.jobs.tasks import JobOutcome


def job_outcome(job: Any, run_numbers: dict[str, int], store: Any) -> str:
    """Return an ended job's state with its test accuracy and run number.

    Args:
        job: A `core.jobs.job.Job` that ended.
        run_numbers: Run numbers by run id (`RunStore.run_numbers`).
        store: The `core.runs.RunStore` its run went to (it says whether successive halving
            stopped it early).

    Returns:
        E.g. ``"finished: 91.2% test accuracy (run #3)"``, ``"stopped early: …"`` or
        ``"failed: <the job's error>"``.
    """
    if job.error:
        return f"failed: {job.error}"
    outcome = job.result if isinstance(job.result, JobOutcome) else None
    accuracy = outcome.result.test_accuracy if outcome is not None else None
    text = str(job.state)
    run_id = outcome.run_id if outcome is not None else None
    if job.state == JobState.STOPPED and stopped_early_reason(store, run_id):
        text = "stopped early"
    if accuracy is not None and accuracy == accuracy:
        text += f": {accuracy:.1%} test accuracy"
    number = run_numbers.get(run_id) if run_id is not None else None
    if number is not None:
        text += f" (run #{number})"
    return text
