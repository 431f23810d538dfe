"""The sidebar (current model, this visitor's jobs in every app process) and the job watcher
that reruns the app when one of the visitor's queued or running jobs starts or finishes."""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from core.jobs.job import JobKind, JobState
from core.jobs.progress_text import progress_fraction, progress_text
from core.text import plain
from ui.identity import session_id
from ui.models import current_model
from ui.open_tabs import open_tabs, this_tab
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


def _render_status(jobs: list, show_bars: bool = True) -> None:
    current = current_model()
    st.caption("Current model")
    st.markdown(plain(current.label) if current else "_none yet: train one or pick a stored run_")
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


def _live_status() -> None:
    """The sidebar's status while a job runs: rerun the app once one started or finished,
    else redraw the status with fresh progress bars."""
    jobs = _session_jobs()
    if _job_states(jobs) != st.session_state.get(KEY_JOB_STATES):
        st.rerun(scope="app")
    _render_status(jobs)


def _page_follows(jobs: list) -> bool:
    """True when the Train page's live view of a running training follows the jobs."""
    return any(job.kind == JobKind.TRAIN and not job.done for job in jobs)


def sidebar_status(live: bool = True) -> None:
    """Show the current model and this session's jobs in the sidebar, and follow the jobs.

    The visitor's jobs (in every process) are read once per full run. While one is queued
    or running, one fragment reruns every `JOB_WATCH_SECONDS`: it reruns the whole app when
    a job started or finished (so results, run tables, pickers and the sidebar show it
    without a click) and otherwise redraws the status with fresh progress bars. With no job
    queued or running nothing reruns between clicks: a job started in another tab of the
    same browser reruns this tab from the server (`ui.open_tabs`).

    Args:
        live: Progress bars in the sidebar while a job runs. The Train page passes False:
            it shows the job's progress itself, so the sidebar names the jobs without bars;
            while a training runs, the page's live view also looks for a started or finished
            job (`rerun_when_jobs_change`), else a fragment of the sidebar does (nothing drawn).
    """
    executor_notice()
    jobs = _session_jobs()
    states = _job_states(jobs)
    st.session_state[KEY_JOB_STATES] = states
    running = bool(states[1])
    with st.sidebar:
        if running and live:
            st.fragment(run_every=JOB_WATCH_SECONDS)(_live_status)()
        else:
            _render_status(jobs, show_bars=live)
            if running and (live or not _page_follows(jobs)):
                # Below the status: in the main area it would shift the page's elements
                # by one while it runs, and Streamlit would redraw the page's tabs.
                st.fragment(run_every=JOB_WATCH_SECONDS)(_rerun_when_jobs_change)()


# --- Background-job results ---------------------------------------------------------------

KEY_JOB_STATES = "job_states_seen"
JOB_WATCH_SECONDS = 1.0


def _job_states(jobs: list) -> tuple[frozenset[str], frozenset[str]]:
    """Return the ids of these jobs that are (finished, queued or running)."""
    return (
        frozenset(job.id for job in jobs if job.done),
        frozenset(job.id for job in jobs if not job.done),
    )


def _rerun_when_jobs_change() -> None:
    """Rerun the whole app once a job started or finished since the last full run."""
    if _job_states(_session_jobs()) != st.session_state.get(KEY_JOB_STATES):
        st.rerun(scope="app")


def rerun_when_jobs_change() -> None:
    """Called by a page's live fragment that follows the visitor's jobs in the sidebar's
    stead: in the fragment's own reruns, rerun the whole app once one of the visitor's jobs
    started or finished (nothing in a full run, which has just read them)."""
    context = get_script_run_ctx()
    if context is not None and context.fragment_ids_this_run:
        _rerun_when_jobs_change()


def watch_jobs() -> None:
    """Note this tab as one of the visitor's open tabs, so a job that another of them starts
    reruns it at once (`ui.open_tabs`); called by `app.py` on every full run."""
    tab = this_tab()
    if tab is not None:
        open_tabs().note(session_id(), tab)
