"""Who this browser session is: the visitor id (from the cookie or a random one), the adoption
of a former id's jobs, runs and current model, and the network address the caps count."""

from __future__ import annotations

import sqlite3
import uuid

import streamlit as st
from sqlalchemy.exc import DBAPIError

from core.visitors.identity import address_for_limits, visitor_id_from_cookie_header
from ui.resources import current_model_store, job_manager, run_store

# This browser session's own random id: the visitor id until the browser's cookie is known.
KEY_SESSION_ID = "session_id"
# The id of the browser's visitor cookie, once this session adopted it.
KEY_VISITOR_ID = "visitor_id"
# Former ids of this session whose jobs were still running at adoption: former id -> job ids.
KEY_ADOPTION_PENDING = "visitor_adoption_pending"


def browser_visitor_id() -> str | None:
    """Return the visitor id of this browser's cookie, or None if it sent no valid one.

    The cookie is set by `core.visitors.identity.VisitorCookieMiddleware` when the app is started
    through `streamlit_app.py` (`make run`); `streamlit run app.py` and AppTest have none.
    The WebSocket handshake's ``Cookie`` header is read with the middleware's own function,
    so the two always agree on whether (and which) id the browser has.
    """
    return visitor_id_from_cookie_header(st.context.headers.get_all("cookie"))


def session_id() -> str:
    """Return the visitor id: the owner of this browser's jobs, runs and current model.

    It is the id in the browser's visitor cookie (core/visitors/identity.py), so every tab of one
    browser, and the same tab after a reload, get the same id, and another browser another.
    Without that cookie (its very first request, cookies blocked, `streamlit run app.py`,
    AppTest) it is a random id of this browser session. When a session that worked under
    one id first sees a cookie with another, it adopts the cookie's id and hands its jobs,
    runs and current model over to it, so nothing is lost.
    """
    if KEY_SESSION_ID not in st.session_state:
        st.session_state[KEY_SESSION_ID] = uuid.uuid4().hex
    visitor = st.session_state.get(KEY_VISITOR_ID) or st.session_state[KEY_SESSION_ID]
    browser = browser_visitor_id()
    if browser is not None and browser != visitor:
        _adopt(visitor, browser)
        st.session_state[KEY_VISITOR_ID] = browser
        visitor = browser
    if st.session_state.get(KEY_ADOPTION_PENDING):
        _finish_adoption(visitor)
    return visitor


def _adopt(former: str, visitor: str) -> None:
    """Hand the jobs, runs and remembered current model of ``former`` over to ``visitor``."""
    manager = job_manager()
    running = [job.id for job in manager.active_jobs(owner=former)]
    manager.transfer_owner(former, visitor)
    if running:
        # Their runs are saved under the former id when they end: moved over once they have.
        pending = dict(st.session_state.get(KEY_ADOPTION_PENDING) or {})
        pending[former] = running
        st.session_state[KEY_ADOPTION_PENDING] = pending
    try:
        run_store().transfer_owner(former, visitor)
        current_model_store().transfer(former, visitor)
    except (OSError, ValueError, sqlite3.Error, DBAPIError):
        pass  # A store that cannot be written keeps the runs where they are; Compare says why.


def _finish_adoption(visitor: str) -> None:
    """Move the runs that jobs adopted from a former id saved under it since."""
    pending = dict(st.session_state[KEY_ADOPTION_PENDING])
    manager = job_manager()
    for former, job_ids in list(pending.items()):
        try:
            run_store().transfer_owner(former, visitor)
        except (OSError, ValueError, sqlite3.Error, DBAPIError):
            continue
        jobs = [manager.get(job_id) for job_id in job_ids]
        if all(job is None or job.done for job in jobs):
            del pending[former]
    st.session_state[KEY_ADOPTION_PENDING] = pending


def visitor_address() -> str | None:
    """Return this visitor's public network address for per-address caps, or None.

    None on localhost and for private addresses (a proxy's or a local network's, shared by
    everyone behind it): then only the per-visitor caps and the queue cap apply.
    """
    return address_for_limits(st.context.ip_address)
