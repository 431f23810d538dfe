"""The sidebar (current model, this visitor's jobs in every app process) and the job watcher
that reruns the app when one of the visitor's jobs starts or finishes."""

from __future__ import annotations

import streamlit as st

from core.jobs.job import JobKind, JobState
from core.jobs.progress_text import progress_fraction, progress_text
from core.text import plain
from ui.models import current_model
from ui.resources import executor_notice
from ui.visitor_runs import ELSEWHERE_CAPTION, runs_elsewhere, stop_visitor_job, visitor_jobs


def _session_jobs() -> list:
    """Return this session's jobs, newest first (other processes' ones too)."""
    return visitor_jobs()


def _job_line(job) -> str:
    if job.state == JobState.QUEUED and runs_elsewhere(job):
        return f"**{plain(job.name)}**: waiting in the queue"
    if job.state == JobState.QUEUED:
        return f"**{plain(job.name)}**: waiting in the queue (position {job.queue_position})"
    if job.state == JobState.RUNNING:
        return f"**{plain(job.name)}**: {'stopping' if job.stop_requested else 'running'}"
    return f"**{plain(job.name)}**: {job.state}"


def _render_status(show_bars: bool = True) -> None:
    current = current_model()
    st.caption("Current model")
    st.markdown(plain(current.label) if current else "_none yet: train one or pick a stored run_")
    jobs = _session_jobs()
    active = [job for job in jobs if not job.done]
    if not active:
        if jobs:
            # A stored training's name says what was trained ("9 of 20 ep, stopped").
            name = getattr(getattr(jobs[0], "result", None), "name", None) or jobs[0].name
            st.caption(f"Last job: {plain(name)} ({jobs[0].state})")
        return
    st.caption("Jobs")
    for job in active:
        st.markdown(_job_line(job))
        progress = job.progress or {}
        if show_bars and job.state == JobState.RUNNING:
            text = progress_text(progress) if job.kind == JobKind.TRAIN else None
            st.progress(progress_fraction(progress), text=text)
        if runs_elsewhere(job):
            st.caption(ELSEWHERE_CAPTION)
            if not job.stop_requested:
                st.button(
                    "Stop",
                    key=f"sidebar_stop_{job.id}",
                    icon=":material/stop:",
                    on_click=stop_visitor_job,
                    args=(job.id,),
                )
    if not show_bars:
        st.caption("Live progress is shown on this page.")


def sidebar_status(live: bool = True) -> None:
    """Show the current model and this session's jobs in the sidebar.

    Args:
        live: Refresh it every second while a job runs, progress bars included. The Train
            page passes False: it shows the job's progress itself, and every live rerun
            costs the server's event loop; a bar drawn once would stand still there, so the
            sidebar then names the jobs without bars.
    """
    executor_notice()
    running = any(not job.done for job in _session_jobs())
    with st.sidebar:
        if running and live:
            st.fragment(run_every=1.0)(_render_status)()
        else:
            _render_status(show_bars=live)


# --- Background-job results ---------------------------------------------------------------

KEY_JOB_STATES = "job_states_seen"
JOB_WATCH_SECONDS = 1.0
# With none of the visitor's jobs queued or running, a tab still looks this often for one
# that another tab of the same browser started, so it shows that training without a click.
IDLE_WATCH_SECONDS = 3.0


def _job_states() -> tuple[frozenset[str], frozenset[str]]:
    """Return the ids of this visitor's (finished, queued or running) jobs."""
    jobs = _session_jobs()
    return (
        frozenset(job.id for job in jobs if job.done),
        frozenset(job.id for job in jobs if not job.done),
    )


def _rerun_when_jobs_change() -> None:
    """Rerun the whole app once a job started or finished since the last full run."""
    if _job_states() != st.session_state.get(KEY_JOB_STATES):
        st.rerun(scope="app")


def watch_jobs() -> None:
    """Update the page by itself when one of this visitor's jobs starts or finishes.

    Called by `app.py` on every full run, before the page. It notes which of the visitor's
    jobs are done and which are not, and adds an invisible fragment that checks them (a
    dictionary look-up per job, nothing drawn) every `JOB_WATCH_SECONDS` while any is queued
    or running, every `IDLE_WATCH_SECONDS` otherwise. When one has finished, or a new one
    appeared (started in another tab of the same browser), it reruns the whole app, so
    results, run tables, pickers and the sidebar show it without a click.
    """
    states = _job_states()
    st.session_state[KEY_JOB_STATES] = states
    interval = JOB_WATCH_SECONDS if states[1] else IDLE_WATCH_SECONDS
    # In the sidebar, below its status: in the main area it would shift the page's elements
    # by one while it runs, and Streamlit would redraw the page's tabs from the first tab.
    with st.sidebar:
        st.fragment(run_every=interval)(_rerun_when_jobs_change)()
