"""Which app processes are alive: each beats in the ``processes`` table of the shared store.

A run in progress (`core.runs.in_progress`) and a job (`core.jobs.board`) name the process
that owns it. `ProcessHeartbeat` gives this process an id (host, pid and a random token, so
a restarted server with its predecessor's pid is a new process), writes a row for it and
updates the row's ``heartbeat`` every `BEAT_SECONDS` from a daemon thread. A process on
another host is dead when its row has not beaten for `STALE_SECONDS`. One on this host is
dead at once when its pid is gone (or belongs to a newer process), so a crash here is
noticed without waiting; while its pid lives, a late beat means a starved process (a loaded
machine can hold a thread back for many seconds), and only after `HUNG_SECONDS` without one
does it count as hung, and so as dead.

Work that must happen on every beat (renewing claims, reading stop requests, recovering the
runs of dead processes) registers with `ProcessHeartbeat.on_beat`.

A heartbeat starts beating only when asked (`ProcessHeartbeat.start`): telling which other
processes are dead needs no row of this process; owning a run in progress or a job does.
`heartbeat_for` keeps a started heartbeat (and the `Database` it writes with) for the life of
the process, and one not started only as long as someone holds it, so a run store that is
no longer used does not keep its connections open.
"""

from __future__ import annotations

import atexit
import logging
import os
import secrets
import socket
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from core.runs.engine import Database, error_reason
from core.runs.schema import processes

logger = logging.getLogger(__name__)

BEAT_SECONDS = 2.0
STALE_SECONDS = 20.0
HUNG_SECONDS = 120.0
HOST = socket.gethostname()


def _process_started(pid: int) -> float | None:
    """When a process on this host started (seconds since the epoch), None if it is gone.

    Read from ``/proc`` (the start in clock ticks after boot); 0 when it runs but its start
    cannot be read (no ``/proc``), so only its heartbeat tells.
    """
    if pid == os.getpid():
        return PROCESS_STARTED
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        ticks = int(stat.rsplit(")", 1)[1].split()[19])
        return _boot_time() + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def _boot_time() -> float:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    raise ValueError("no btime in /proc/stat")


PROCESS_STARTED = time.time()


class ProcessHeartbeat:
    """This process's row in ``processes``, kept fresh by a daemon thread.

    Args:
        database: The shared database.
        beat_seconds: How often the row is updated.
        stale_seconds: How long a row may go without a beat before its process counts as
            dead, for a process on another host.
        hung_seconds: The same for a process on this host whose pid still lives.
    """

    def __init__(
        self,
        database: Database,
        beat_seconds: float = BEAT_SECONDS,
        stale_seconds: float = STALE_SECONDS,
        hung_seconds: float = HUNG_SECONDS,
    ) -> None:
        self.database = database
        self.beat_seconds = beat_seconds
        self.stale_seconds = stale_seconds
        self.hung_seconds = hung_seconds
        self.process_id = f"{HOST}:{os.getpid()}:{secrets.token_hex(4)}"
        self._callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self._unreachable = False

    def start(self) -> None:
        """Write this process's row (now) and start beating (once; later calls do nothing).

        The row is removed when the interpreter exits normally (`stop`), so the runs it
        leaves in progress count as interrupted at once, on every host.

        Raises:
            sqlalchemy.exc.DBAPIError: If the database cannot be written.
        """
        with self._lock:
            if self._thread is not None:
                return
            self.beat()
            self._thread = threading.Thread(
                target=self._run, name="mnist-studio-heartbeat", daemon=True
            )
            self._thread.start()
            atexit.register(self.stop)

    @property
    def beating(self) -> bool:
        """True once `start` was called and until `stop`."""
        return self._thread is not None and not self._stopped.is_set()

    def on_beat(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after every beat (in the heartbeat's thread; errors are logged).

        Callbacks registered before `start` wait for it.
        """
        with self._lock:
            self._callbacks.append(callback)

    def remove_on_beat(self, callback: Callable[[], None]) -> None:
        """Stop calling a callback given to `on_beat` (none is fine)."""
        with self._lock:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

    def beat(self) -> None:
        """Update (or write) this process's row now (nothing once stopped)."""
        if self._stopped.is_set():
            return
        now = time.time()
        with self.database.transaction() as connection:
            updated = connection.execute(
                processes.update().where(processes.c.id == self.process_id).values(heartbeat=now)
            ).rowcount
            if not updated:
                if self._thread is not None:
                    # Another process took this one for dead (no beat for stale_seconds) and
                    # may have recorded its runs in progress as interrupted.
                    logger.warning(
                        "Process %s had been taken for dead; it beats again.", self.process_id
                    )
                connection.execute(
                    processes.insert().values(
                        id=self.process_id, host=HOST, pid=os.getpid(),
                        started=PROCESS_STARTED, heartbeat=now,
                    )
                )  # fmt: skip

    def stop(self) -> None:
        """Stop beating and remove this process's row (a clean shutdown; tests)."""
        self._stopped.set()
        try:
            with self.database.transaction() as connection:
                connection.execute(processes.delete().where(processes.c.id == self.process_id))
        except DBAPIError:
            pass

    def dead_processes(self, connection: Connection) -> set[str]:
        """Return the ids of the processes in ``processes`` that are dead (never this one).

        Dead: on another host, no beat for `stale_seconds`; on this host, its pid gone or
        reused by a process that started after it, or no beat for `hung_seconds`.
        """
        return set(self.why_dead(connection))

    def why_dead(self, connection: Connection) -> dict[str, str]:
        """Return the dead processes of `dead_processes`, each with why it counts as dead."""
        now = time.time()
        rows = connection.execute(
            sa.select(processes.c.id, processes.c.host, processes.c.pid, processes.c.started,
                      processes.c.heartbeat)
        ).all()  # fmt: skip
        dead = {}
        for process, host, pid, started, heartbeat in rows:
            if process == self.process_id:
                continue
            silent = now - heartbeat
            if host != HOST:
                if silent > self.stale_seconds:
                    dead[process] = f"no beat for {silent:.0f} s"
                continue
            running_since = _process_started(pid)
            if running_since is None:
                dead[process] = f"pid {pid} is gone"
            elif running_since > started + 1:
                dead[process] = f"pid {pid} now belongs to a process started later"
            elif silent > self.hung_seconds:
                dead[process] = f"pid {pid} lives but has not beaten for {silent:.0f} s"
        return dead

    def is_alive(self, connection: Connection, process: str) -> bool:
        """True when ``process`` is this one or has a row and is not dead."""
        if process == self.process_id:
            return True
        known = connection.execute(
            sa.select(processes.c.id).where(processes.c.id == process)
        ).scalar_one_or_none()
        return known is not None and process not in self.dead_processes(connection)

    def forget(self, connection: Connection, process: str) -> None:
        """Remove a dead process's row (its runs and jobs were dealt with)."""
        connection.execute(processes.delete().where(processes.c.id == process))

    def _run(self) -> None:
        while not self._stopped.wait(self.beat_seconds):
            try:
                self.beat()
            except DBAPIError as error:
                if not self._unreachable:  # Once per outage, not every beat.
                    logger.warning(
                        "The heartbeat could not reach the run store (%s); trying again every "
                        "%g s.", error_reason(error), self.beat_seconds,
                    )  # fmt: skip
                self._unreachable = True
                continue
            if self._unreachable:
                logger.warning("The heartbeat reaches the run store again.")
                self._unreachable = False
            with self._lock:
                callbacks = list(self._callbacks)
            for callback in callbacks:
                try:
                    callback()
                except Exception:  # A callback's failure must not stop the beat.
                    logger.exception("A heartbeat callback failed")


_HEARTBEATS: dict[str, ProcessHeartbeat] = {}  # started ones, for the process's life
_NOT_STARTED: weakref.WeakValueDictionary[str, ProcessHeartbeat] = weakref.WeakValueDictionary()
_HEARTBEATS_LOCK = threading.Lock()


def heartbeat_for(database: Database, start: bool = True) -> ProcessHeartbeat:
    """Return this process's heartbeat on ``database`` (one per database URL).

    Args:
        database: The shared database; the heartbeat writes with the first one given for
            its URL.
        start: Start beating now (see `ProcessHeartbeat.start`). False gives the heartbeat
            without a row, e.g. to ask which other processes are dead; it is kept only while
            the caller holds it, until someone starts it.

    Raises:
        sqlalchemy.exc.DBAPIError: If ``start`` and the database cannot be written.
    """
    with _HEARTBEATS_LOCK:
        heartbeat = _HEARTBEATS.get(database.url) or _NOT_STARTED.get(database.url)
        if heartbeat is None:
            heartbeat = ProcessHeartbeat(database)
        if start:
            _HEARTBEATS[database.url] = heartbeat
            _NOT_STARTED.pop(database.url, None)
        elif database.url not in _HEARTBEATS:
            _NOT_STARTED[database.url] = heartbeat
    if start:
        heartbeat.start()
    return heartbeat


def stop_heartbeats() -> None:
    """Stop every heartbeat of this process and forget them (the end of a test session,
    before its database server stops, so no beat fails against it afterwards)."""
    with _HEARTBEATS_LOCK:
        beating = {*_HEARTBEATS.values(), *_NOT_STARTED.values()}
        _HEARTBEATS.clear()
        _NOT_STARTED.clear()
    for heartbeat in beating:
        if heartbeat.beating:
            heartbeat.stop()
