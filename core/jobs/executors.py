"""Where a job's heavy work runs: in this process (the default) or on a Ray cluster.

The job manager (`core.jobs.manager`) queues jobs and runs each job function in a thread of the
server. A job function trains through an executor, so the pages and the run store never
know where the work happened:

- `ThreadExecutor` (`core.jobs.thread_executor`) trains right there, in the job's thread
  (fast to start, light).
- `RayExecutor` (`core.jobs.ray_executor`) runs the whole job (training and storing its run)
  as a task of the cluster's detached job dispatcher, so it outlives the app process; the
  job's thread relays live progress and Stop while it lives.

`get_executor()` picks one from the ``ray_address`` setting: unset (threads), ``local`` (a
private Ray on this machine), ``auto`` (the cluster this machine belongs to) or
``ray://host:port`` (a remote cluster through Ray Client). When a cluster cannot be reached,
or goes away, new jobs run on threads and `status_message()` says why.

Ray is optional (``requirements-ray.txt``) and imported only when a Ray address is set.

Example:
    executor = get_executor()
    result = executor.train(config, dataset, on_progress=print, stop_event=threading.Event())
"""

from __future__ import annotations

import threading

from core import settings
from core.jobs.ray_executor import RayExecutor
from core.jobs.thread_executor import ThreadExecutor

_executor: ThreadExecutor | RayExecutor | None = None
_executor_lock = threading.Lock()


def get_executor() -> ThreadExecutor | RayExecutor:
    """Return this process's executor, as the ``ray_address`` setting asks (threads if unset)."""
    global _executor
    with _executor_lock:
        address = (settings.get_setting("ray_address") or "").strip()
        wanted = RayExecutor.name if address else ThreadExecutor.name
        if (
            _executor is None
            or _executor.name != wanted
            or (isinstance(_executor, RayExecutor) and _executor.address != address)
        ):
            _executor = RayExecutor(address) if address else ThreadExecutor()
        return _executor
