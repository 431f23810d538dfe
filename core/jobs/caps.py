"""Caps on jobs, checked when a job is submitted: per visitor, per address, queue length.

The manager checks them against its own jobs, or against every process's jobs through the
shared jobs table (`core.jobs.board`); either way an active job only needs an owner and an
address.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class JobLimitError(ValueError):
    """A job was refused because a cap on jobs was reached; the message says which and why."""


@dataclass(frozen=True)
class JobCaps:
    """Caps `JobManager.submit` enforces, all optional (None: no cap).

    Attributes:
        max_per_owner: Active (queued or running) jobs one owner, e.g. a visitor, may have.
        max_per_address: Active jobs the owners at one network address may have together.
        max_queue: Jobs that may wait in the queue of the whole manager (with a shared jobs
            table, of every app process together).
    """

    max_per_owner: int | None = None
    max_per_address: int | None = None
    max_queue: int | None = None


class CountedJob(Protocol):
    """What the caps read of an active job: a `core.jobs.job.Job` or a row of the jobs table."""

    @property
    def owner(self) -> str | None: ...

    @property
    def address(self) -> str | None: ...


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def check_caps(
    caps: JobCaps,
    active: Sequence[CountedJob],
    queued: int,
    slots: int,
    owner: str | None,
    address: str | None,
) -> None:
    """Raise JobLimitError if a new job of ``owner`` at ``address`` would pass a cap.

    Args:
        caps: The caps to check.
        active: The queued and running jobs (of this manager, or of every process).
        queued: How many of them wait in a queue.
        slots: How many jobs the manager runs at once.
        owner: Who submits the new job, or None.
        address: The network address it comes from (as ``active`` records addresses), or
            None.

    Raises:
        JobLimitError: If a cap is reached; the message says which and what to do.
    """
    if caps.max_per_owner is not None and owner is not None:
        mine = sum(job.owner == owner for job in active)
        if mine >= caps.max_per_owner:
            raise JobLimitError(
                f"You already have {_plural(mine, 'job')} running or waiting, the most one "
                "visitor may have here; wait for one to finish or stop one first."
            )
    if caps.max_per_address is not None and address is not None:
        shared = sum(job.address == address for job in active)
        if shared >= caps.max_per_address:
            raise JobLimitError(
                f"Your network address already has {_plural(shared, 'job')} running or "
                "waiting, the most one address may have here; wait for one to finish."
            )
    if caps.max_queue is not None and queued >= caps.max_queue:
        raise JobLimitError(
            f"The queue is full: {_plural(queued, 'job')} of all visitors are "
            f"waiting for {_plural(slots, 'training slot')}. Please wait a "
            "few minutes and try again."
        )


def ray_slots(cpus: int, app_slots: int, app_processes: int) -> int:
    """How many jobs one app process runs at once on a Ray cluster of ``cpus`` CPUs.

    One app process runs as many as the cluster has CPUs (at least its own setting, the
    rest waiting in Ray). Several processes sharing one cluster split its CPUs: each running
    job polls its task and redraws its tab, so a job started beyond the cluster's CPUs only
    costs the app processes while it waits in Ray, and its time limit runs meanwhile.

    Args:
        cpus: The cluster's CPUs.
        app_slots: The app's ``max_concurrent_jobs`` setting.
        app_processes: How many app processes share the cluster (1 or more).
    """
    if app_processes <= 1:
        return max(app_slots, cpus)
    return max(1, cpus // app_processes)
