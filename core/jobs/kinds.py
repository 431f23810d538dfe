"""What a background job is: `JobKind`, one enum for the manager, the pages and the executors.

It sits apart from `core.jobs.job` because the work a job does (`core.jobs.ray_executor`) must
not import the `Job` (see the import-linter contracts); `core.jobs.job` re-exports it.
"""

from __future__ import annotations

from enum import StrEnum


class JobKind(StrEnum):
    """What a job does; a `str`, so it is stored and compared as its value."""

    TRAIN = "train"
    BASELINE = "baseline"
    SWEEP = "sweep"
