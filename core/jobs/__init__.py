"""Background jobs: trainings, baselines and sweeps run while a visitor switches pages.

    job           one `Job` and its `JobState`: what pages read (state, progress, history)
    caps          `JobCaps` and `JobLimitError`: per visitor, per address and queue caps;
                  `ray_slots`: one app process's share of a Ray cluster's CPUs
    manager       `JobManager`: queues jobs and runs them in threads, with time limits
    board         `JobBoard`: every process's jobs in the run store's database, caps across them
    executors     `get_executor`: where a job's work runs (this process or a Ray cluster)
    thread_executor, ray_executor   the two executors
    tasks         trainings and baselines as job functions that save their run
    sweeps        a grid of configurations as jobs, its expected time, early stopping

This package re-exports what pages and other packages use; importing it loads neither
TensorFlow nor Ray (they load when a job first trains).
"""

from core.jobs.caps import JobCaps, JobLimitError, ray_slots
from core.jobs.executors import get_executor
from core.jobs.job import ACTIVE_STATES, DONE_STATES, Job, JobState
from core.jobs.manager import JobManager
from core.jobs.sweeps import (
    EARLY_STOPPING_METRICS,
    SuccessiveHalving,
    SweepGrid,
    SweepTooLargeError,
    early_stopping_metric,
    estimate_seconds,
    measured_flops_per_second,
    stopped_early_reason,
    sweep_configs,
    sweep_jobs,
)
from core.jobs.tasks import (
    JobOutcome,
    LiveCurve,
    make_baseline_job,
    make_training_job,
    save_baseline_result,
    save_training_result,
)

__all__ = [
    "ACTIVE_STATES",
    "DONE_STATES",
    "EARLY_STOPPING_METRICS",
    "Job",
    "JobCaps",
    "JobLimitError",
    "JobManager",
    "JobOutcome",
    "JobState",
    "LiveCurve",
    "SuccessiveHalving",
    "SweepGrid",
    "SweepTooLargeError",
    "early_stopping_metric",
    "estimate_seconds",
    "get_executor",
    "make_baseline_job",
    "make_training_job",
    "measured_flops_per_second",
    "ray_slots",
    "save_baseline_result",
    "save_training_result",
    "stopped_early_reason",
    "sweep_configs",
    "sweep_jobs",
]
