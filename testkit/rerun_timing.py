"""How long a page takes to rerun, timed from Streamlit's WebSocket frames as a browser sees them.

A rerun is asked for with a `BackMsg` (`rerun_script`: a page load, a widget change or a
fragment's timer) and answered by the first script run that starts after it, covers it (a
full-app run covers everything; a fragment run covers the fragments it names) and finishes
(`script_finished`). Streamlit merges requests that arrive while a run is busy, so one run
can answer several requests; each request keeps its own latency, which is what its viewer
waited. A fragment's timer may still ask for a fragment that a full-app run has just removed
(the browser's timers stop when that run's first message arrives): Streamlit drops such a
request without a run, so a full run answers a fragment's request only when it drew that
fragment again (an element or `auto_rerun` of it came in that run); the others count as
`dropped`. A request sent while a run of the tab is busy or a page or widget request of it
waits (a timer firing during a slow page load) is marked `behind`: its wait is mostly the
other's, so the figures list it apart.
The simulated learners (`testkit.learner_session`) and the Chromium visitors
(`testkit.browser_learners`) feed the same frames to `RerunTimer`, so their figures compare.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# `ForwardMsg.script_finished` values that end a request's wait (a run stopped early for a
# newer request does not: the run that replaces it answers).
FINISHED_SUCCESSFULLY = 0
FINISHED_WITH_COMPILE_ERROR = 1
FINISHED_EARLY_FOR_RERUN = 2
FINISHED_FRAGMENT_RUN_SUCCESSFULLY = 3
ANSWERING_STATUSES = frozenset(
    {FINISHED_SUCCESSFULLY, FINISHED_WITH_COMPILE_ERROR, FINISHED_FRAGMENT_RUN_SUCCESSFULLY}
)


@dataclass(frozen=True)
class Rerun:
    """One answered request: what asked for it, and the seconds until its run finished."""

    kind: str
    fragment_id: str | None
    seconds: float
    behind: bool = False


@dataclass
class _Request:
    kind: str
    fragment_id: str | None
    sent_at: float
    behind: bool


@dataclass
class RerunTimer:
    """Matches requests sent to the runs that answer them.

    Call `sent` for each `rerun_script` sent, `run_started` for each run's first message
    (`new_session`) and `run_finished` for each `script_finished`, all with one clock.
    """

    answered: list[Rerun] = field(default_factory=list)
    dropped: int = 0
    _pending: list[_Request] = field(default_factory=list)
    _starts: dict[str, tuple[float, tuple[str, ...]]] = field(default_factory=dict)
    _drawn: dict[str, set[str]] = field(default_factory=dict)
    _current_run: str = ""

    def sent(self, at: float, kind: str, fragment_id: str | None = None) -> None:
        """A request left: `kind` labels it (e.g. "page", "watch"), for the figures."""
        busy = bool(self._starts) or any(r.fragment_id is None for r in self._pending)
        self._pending.append(_Request(kind, fragment_id or None, at, busy))

    def run_started(self, at: float, run_id: str, fragment_ids) -> None:
        self._starts[run_id] = (at, tuple(fragment_ids))
        self._current_run = run_id

    def fragment_drawn(self, fragment_id: str) -> None:
        """The running run drew a fragment (an element or `auto_rerun` of it; neither carries
        a run id, but a session's runs follow one another)."""
        self._drawn.setdefault(self._current_run, set()).add(fragment_id)

    def run_finished(self, at: float, run_id: str, status: int) -> list[Rerun]:
        """A run finished; return the requests it answered (also kept in `answered`)."""
        started_at, fragment_ids = self._starts.pop(run_id, (at, ()))
        drawn = self._drawn.pop(run_id, set())
        if status not in ANSWERING_STATUSES:
            return []
        done, waiting = [], []
        for request in self._pending:
            if request.sent_at > started_at:
                waiting.append(request)
            elif fragment_ids:
                if request.fragment_id in fragment_ids:
                    done.append(
                        Rerun(
                            request.kind, request.fragment_id, at - request.sent_at, request.behind
                        )
                    )
                else:
                    waiting.append(request)
            elif request.fragment_id is None or request.fragment_id in drawn:
                done.append(
                    Rerun(request.kind, request.fragment_id, at - request.sent_at, request.behind)
                )
            else:
                self.dropped += 1
        self._pending = waiting
        self.answered.extend(done)
        return done

    @property
    def unanswered(self) -> int:
        """Requests still waiting for their run."""
        return len(self._pending)

    def seconds(self, *kinds: str, behind: bool = False) -> list[float]:
        """The latencies of the answered requests of these kinds (all kinds when none
        given): those sent with nothing else waiting, or with `behind` only the others."""
        return [
            rerun.seconds
            for rerun in self.answered
            if (not kinds or rerun.kind in kinds) and rerun.behind == behind
        ]
