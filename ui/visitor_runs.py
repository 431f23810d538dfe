"""The runs this visitor sees and the jobs it starts (within the caps in force), in any process."""

from __future__ import annotations

import pandas as pd

from core import settings
from core.jobs.board import JobSnapshot
from core.jobs.caps import JobCaps
from core.jobs.job import JobKind
from core.runs import LIST_COLUMNS
from core.runs.records import RunKind
from ui.classes import in_class, visitor_address
from ui.identity import session_id
from ui.open_tabs import open_tabs, this_tab
from ui.resources import job_manager, run_store


def runs_owner() -> str | None:
    """Return the owner whose runs this session sees: itself in the demo and in a class (a
    student never sees another's runs), else everyone."""
    return session_id() if settings.limits().runs_per_session or in_class() else None


def visible_runs():
    """Return the stored runs this session may see, newest first (a DataFrame)."""
    return run_store().list_runs(owner=runs_owner())


def run_numbers() -> dict[str, int]:
    """Return each visible run's number ("#7"), or none when the run store cannot be opened.

    In the demo a visitor's runs are numbered among their own (#1, #2, ...), so a number
    says nothing about how many runs other visitors keep; locally, across the store.
    """
    try:
        return run_store().run_numbers(owner=runs_owner())
    except (OSError, ValueError):
        return {}


def stored_networks():
    """Return the visible network runs that have a model file, or an empty table.

    A store that cannot be read gives an empty table here; the Compare page reports why.
    """
    try:
        runs = visible_runs()
    except (OSError, ValueError):
        return pd.DataFrame(columns=LIST_COLUMNS)
    return runs[(runs["kind"] == RunKind.NETWORK) & runs["has_model"]]


def submit_job(name: str, fn, kind: str = JobKind.TRAIN):
    """Submit a job for this visitor, within the caps in force (`core.settings.limits`).

    The caps (jobs per visitor, per network address and in the whole queue) are checked by
    `core.jobs.manager.JobManager.submit` atomically with the queueing.

    Raises:
        core.jobs.caps.JobLimitError: A cap is reached; its message says which and what to do.
    """
    limits = settings.limits()
    caps = JobCaps(
        max_per_owner=limits.max_jobs_per_visitor,
        max_per_address=limits.max_jobs_per_address,
        max_queue=limits.max_queue,
    )
    visitor = session_id()
    job = job_manager().submit(
        name, fn, owner=visitor, kind=kind, address=visitor_address(), caps=caps
    )
    # The visitor's other tabs ask nothing while idle: rerun them so they show the job.
    open_tabs().wake_others(visitor, this_tab() or "")
    return job


# Said beside a job that another app process runs (behind a load balancer, a page load may
# land on another process than the one that started the job).
ELSEWHERE_CAPTION = (
    ":material/dns: Runs on another server process of this app: its progress shows here, "
    "its curves and result on the page of the process that runs it, its run in Compare "
    "once stored."
)


def visitor_jobs(kind: str | None = None) -> list:
    """Return this visitor's jobs, newest first, in every app process.

    This process's jobs are `core.jobs.job.Job` objects (results, history, Stop); those
    other processes run are read-only `core.jobs.board.JobSnapshot`s (`runs_elsewhere`),
    left out when the database cannot be read.

    Args:
        kind: Only jobs of this `JobKind` when given.
    """
    manager, owner = job_manager(), session_id()
    jobs = [*manager.jobs(owner=owner), *manager.jobs_elsewhere(owner)]
    jobs.sort(key=lambda job: job.submitted_at, reverse=True)
    return [job for job in jobs if kind is None or job.kind == kind]


def runs_elsewhere(job) -> bool:
    """True for a job that another app process runs (a `JobSnapshot`, read-only)."""
    return isinstance(job, JobSnapshot)


def stop_visitor_job(job_id: str) -> None:
    """Stop one of this visitor's jobs, here or (on its next heartbeat) in another process."""
    job_manager().stop(job_id, owner=session_id())
