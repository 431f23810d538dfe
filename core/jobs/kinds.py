"""What a background job is and where it is in its life: `JobKind` and `JobState`, one enum each.

They sit apart from `core.jobs.job` because the work a job does (`core.jobs.ray_executor`, which
writes the state of a job it runs on a cluster) must not import the `Job` (see the import-linter
contracts); `core.jobs.job` re-exports them.
"""

from __future__ import annotations

from enum import StrEnum


class JobKind(StrEnum):
    """What a job does; a `str`, so it is stored and compared as its value."""

    TRAIN = "train"
    BASELINE = "baseline"
    SWEEP = "sweep"


class JobState(StrEnum):
    """Where a job is in its life; a `str`, so it reads and stores as its value."""

    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    STOPPED = "stopped"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed out"


ACTIVE_STATES = frozenset({JobState.QUEUED, JobState.RUNNING})
DONE_STATES = frozenset(set(JobState) - ACTIVE_STATES)
