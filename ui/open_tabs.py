"""A visitor's open tabs in this process, woken to show a job that another of them started.

A tab with no queued or running job asks the server nothing between clicks (no periodic
reruns): when a visitor starts a job in one tab, this process reruns the visitor's other
tabs at once, as Streamlit reruns a session when its script changes, so they show the job
(and from then on watch it) without a click. A tab of the visitor in another app process
is not woken: behind the load balancer a browser's tabs stay on one process.
"""

from __future__ import annotations

import logging
import threading

from streamlit.runtime import Runtime
from streamlit.runtime.app_session import AppSession, AppSessionState
from streamlit.runtime.scriptrunner import get_script_run_ctx

from core.singletons import process_singleton

logger = logging.getLogger(__name__)


class OpenTabs:
    """The Streamlit sessions (tabs) of each visitor that ran a full page in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[str, set[str]] = {}

    def note(self, visitor: str, session: str) -> None:
        """Remember that `session` (a Streamlit session id) is a tab of `visitor`."""
        with self._lock:
            self._sessions.setdefault(visitor, set()).add(session)

    def sessions(self, visitor: str) -> frozenset[str]:
        """The session ids noted for `visitor` (closed ones too until `wake_others`)."""
        with self._lock:
            return frozenset(self._sessions.get(visitor, ()))

    def wake_others(self, visitor: str, session: str) -> int:
        """Rerun the page of each other open tab of `visitor` that is not running now.

        A tab that is running a page now reads the visitor's jobs in that run. Closed
        tabs are forgotten here.

        Returns:
            How many tabs were asked to rerun.
        """
        others = self.sessions(visitor) - {session}
        # An AppTest has no server (or a stand-in without sessions): no tab to wake.
        runtime = Runtime.instance() if others and Runtime.exists() else None
        manager = getattr(runtime, "_session_mgr", None)
        if manager is None:
            return 0
        woken = 0
        for other in others:
            info = manager.get_active_session_info(other)
            if info is None:
                with self._lock:
                    self._sessions.get(visitor, set()).discard(other)
                continue
            # On the session's event loop, where the server handles a browser's reruns.
            info.session._call_soon_on_event_loop(lambda tab=info.session: _rerun_if_idle(tab))
            woken += 1
        return woken


def _rerun_if_idle(tab: AppSession) -> None:
    """Rerun `tab`'s page with its last query string, unless it is running one now."""
    if tab._state == AppSessionState.APP_NOT_RUNNING:
        tab.request_rerun(tab._client_state)


def open_tabs() -> OpenTabs:
    """The process's registry of open tabs."""
    return process_singleton("open_tabs", OpenTabs)


def this_tab() -> str | None:
    """This tab's Streamlit session id (None outside a script run)."""
    context = get_script_run_ctx()
    return None if context is None else context.session_id
