"""The one place for MNIST Studio's Streamlit glue: pages, cached loaders, session state, sidebar.

Pages import this module; `core` never does. Heavy modules (TensorFlow, the job manager, the
run store) are imported inside the functions that need them, so light pages start fast.
"""

from __future__ import annotations

import json
import math
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from core import settings

# Session-state keys shared by several pages.
KEY_SESSION_ID = "session_id"
KEY_DATASET = "session_dataset"
KEY_CURRENT_MODEL = "current_model"

DEFAULT_MODEL_DIR = settings.PROJECT_ROOT / "models" / "default"


@dataclass(frozen=True)
class PageSpec:
    """A page of the app: its script, its title in the navigation and its icon."""

    path: str
    title: str
    icon: str
    default: bool = False


# The navigation, in the order a learner uses it. Tests iterate over this list, so a page
# added here is picked up by the smoke tests automatically.
PAGES: tuple[PageSpec, ...] = (
    PageSpec("app_pages/home.py", "Home", ":material/home:", default=True),
    PageSpec("app_pages/explore.py", "Explore the data", ":material/grid_view:"),
    PageSpec("app_pages/train.py", "Train", ":material/model_training:"),
    PageSpec("app_pages/evaluate.py", "Evaluate", ":material/analytics:"),
    PageSpec("app_pages/draw.py", "Draw a digit", ":material/draw:"),
    PageSpec("app_pages/compare.py", "Compare runs", ":material/compare_arrows:"),
)


def keep_keras_state_between_runs() -> None:
    """Stop Streamlit from resetting Keras after every script run of every visitor.

    Streamlit (`ScriptRunner._run_script` -> `_clean_problem_modules`, 1.67) calls
    `keras.backend.clear_session()` whenever a script run ends once Keras is imported: a full
    `gc.collect()`, a reset of TensorFlow's default graph and kernel cache, and a fresh Keras
    global state. Here trainings run in background threads while pages rerun every second,
    so each rerun stalled every running training, and with five visitors the collections
    alone kept the server's threads busy. Nothing in this app needs the reset (models are
    built per job, not per run), so it is left out; the matplotlib cleanup is kept.
    Measured in bench/README.md ("Training speed inside the app", "Many visitors").
    """
    from streamlit.runtime.scriptrunner import script_runner

    current = getattr(script_runner, "_clean_problem_modules", None)
    if current is None or getattr(current, "keeps_keras_state", False):
        return  # another Streamlit version, or done already

    def clean_problem_modules_but_keras() -> None:
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None:
            pyplot.close("all")

    clean_problem_modules_but_keras.keeps_keras_state = True
    clean_problem_modules_but_keras.streamlit_original = current
    script_runner._clean_problem_modules = clean_problem_modules_but_keras


def url_path(page: PageSpec) -> str:
    """Return the page's URL path, as st.navigation derives it from the file name."""
    return Path(page.path).stem


def page_path(name: str) -> str:
    """Return the script path of the page whose file is `app_pages/<name>.py`, for st.page_link."""
    return f"app_pages/{name}.py"


# --- Per-session identity -----------------------------------------------------------------


def session_id() -> str:
    """Return a stable random id for this browser session (the owner of its jobs and runs)."""
    if KEY_SESSION_ID not in st.session_state:
        st.session_state[KEY_SESSION_ID] = uuid.uuid4().hex
    return st.session_state[KEY_SESSION_ID]


# --- Data ---------------------------------------------------------------------------------


@st.cache_resource(show_spinner="Loading the MNIST data…")
def default_dataset():
    """Return the process-wide, read-only dataset from the configured IDX folder."""
    from core.data import load_default_dataset

    return load_default_dataset()


def current_dataset():
    """Return this session's dataset: an uploaded one if set, else the default.

    When the configured data folder cannot be read, the page shows the reader's message and
    stops instead of failing with a traceback.
    """
    dataset = st.session_state.get(KEY_DATASET)
    if dataset is not None:
        return dataset
    try:
        return default_dataset()
    except (OSError, ValueError) as error:
        st.error(f"The dataset could not be loaded: {error}")
        st.info(
            "Check the `data_dir` setting (environment variable `MNIST_STUDIO_DATA_DIR` or "
            "`.streamlit/secrets.toml`); it must name a folder with the four IDX files."
        )
        st.stop()


def set_session_dataset(dataset) -> None:
    """Make `dataset` this session's dataset (None goes back to the default)."""
    if dataset is None:
        st.session_state.pop(KEY_DATASET, None)
    else:
        st.session_state[KEY_DATASET] = dataset


# --- Jobs and runs ------------------------------------------------------------------------


@st.cache_resource
def job_manager():
    """Return the process-wide job manager that runs training in background threads."""
    from core.jobs import JobManager

    return JobManager(max_concurrent=settings.max_concurrent_jobs())


@st.cache_resource
def _run_store(folder: str, max_runs: int | None, max_age_days: float | None):
    from core.runs import RunStore

    return RunStore(Path(folder), max_runs=max_runs, max_age_days=max_age_days)


def run_store():
    """Return the run store in the configured folder (one per folder per process)."""
    limits = settings.limits()
    return _run_store(str(settings.runs_dir()), limits.max_runs, limits.max_run_age_days)


def runs_owner() -> str | None:
    """Return the owner whose runs this session sees: itself in the demo, else everyone."""
    return session_id() if settings.limits().runs_per_session else None


def visible_runs():
    """Return the stored runs this session may see, newest first (a DataFrame)."""
    return run_store().list_runs(owner=runs_owner())


def stored_networks():
    """Return the visible network runs that have a model file, or an empty table.

    A store that cannot be read gives an empty table here; the Compare page reports why.
    """
    try:
        runs = visible_runs()
    except (OSError, ValueError):
        import pandas as pd

        from core.runs import LIST_COLUMNS

        return pd.DataFrame(columns=LIST_COLUMNS)
    return runs[(runs["kind"] == "network") & runs["has_model"]]


def submit_job(name: str, fn, kind: str = "train"):
    """Submit a job for this session, within the per-visitor cap.

    Raises:
        ValueError: If this session already has as many jobs as the limits allow.
    """
    cap = settings.limits().max_jobs_per_visitor
    manager = job_manager()
    if cap is not None and len(manager.active_jobs(owner=session_id())) >= cap:
        raise ValueError(
            f"You already have {cap} training job{'s' if cap > 1 else ''} running or waiting; "
            "wait for it to finish or stop it first."
        )
    return manager.submit(name, fn, owner=session_id(), kind=kind)


# --- Models -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CurrentModel:
    """The model the Evaluate and Draw pages use by default for this session."""

    model: Any
    label: str
    config: Any = None
    run_id: str | None = None


def current_model() -> CurrentModel | None:
    """Return this session's current model, or None before one was trained or picked."""
    return st.session_state.get(KEY_CURRENT_MODEL)


def set_current_model(model, label: str, config=None, run_id: str | None = None) -> None:
    """Make a trained model this session's current model."""
    st.session_state[KEY_CURRENT_MODEL] = CurrentModel(
        model=model, label=label, config=config, run_id=run_id
    )


@st.cache_resource(show_spinner="Loading the default model…")
def default_model() -> tuple[Any, dict] | None:
    """Return the shipped default model and its metadata, or None if it is not there.

    Returns:
        ``(model, metadata)`` where metadata is the parsed ``models/default/model.json``.
    """
    model_path = DEFAULT_MODEL_DIR / "model.keras"
    if not model_path.exists():
        return None
    import keras

    model = keras.saving.load_model(model_path, safe_mode=True)
    metadata_path = DEFAULT_MODEL_DIR / "model.json"
    metadata = json.loads(metadata_path.read_text()) if metadata_path.exists() else {}
    return model, metadata


# --- Sidebar ------------------------------------------------------------------------------

ACTIVE_STATES = ("queued", "running")


@st.cache_resource
def training_start_lock():
    """Return the process-wide lock the Train page holds while it checks for a visitor's
    running training and starts one, so two tabs pressing at once start one job."""
    import threading

    return threading.Lock()


def _session_jobs() -> list:
    """Return this session's jobs, newest first."""
    return list(job_manager().jobs(owner=session_id()))


def progress_fraction(progress: dict) -> float:
    """Return a job's progress as a fraction from 0 to 1 (0 before its first report)."""
    return min(max(float(progress.get("fraction") or 0.0), 0.0), 1.0)


def progress_text(progress: dict) -> str:
    """Return the label of a training's progress bar, derived from the bar's own fraction.

    Progress reports come a few times a second and an epoch may end between two of them, so
    the epoch and batch are worked out from the fraction the bar shows: label and bar always
    move together.
    """
    if progress.get("phase") == "evaluating":
        return "Measuring accuracy on the test images…"
    epochs = max(int(progress.get("epochs") or 1), 1)
    batches = max(int(progress.get("batches") or 1), 1)
    fraction = progress_fraction(progress)
    steps = round(fraction * epochs * batches)
    if steps == 0:
        return "Preparing: TensorFlow sets up the training…"
    epoch = min(max(math.ceil(steps / batches), 1), epochs)
    batch = min(steps - (epoch - 1) * batches, batches)
    return f"{fraction:.0%} · epoch {epoch} of {epochs} · batch {batch:,} of {batches:,}"


def _job_line(job) -> str:
    if job.state == "queued":
        return f"**{job.name}**: waiting in the queue (position {job.queue_position})"
    if job.state == "running":
        return f"**{job.name}**: {'stopping' if job.stop_requested else 'running'}"
    return f"**{job.name}**: {job.state}"


def _render_status(show_bars: bool = True) -> None:
    current = current_model()
    st.caption("Current model")
    st.markdown(current.label if current else "_none yet: train one or pick a stored run_")
    jobs = _session_jobs()
    active = [job for job in jobs if job.state in ACTIVE_STATES]
    if not active:
        if jobs:
            st.caption(f"Last job: {jobs[0].name} ({jobs[0].state})")
        return
    st.caption("Jobs")
    for job in active:
        st.markdown(_job_line(job))
        progress = job.progress or {}
        if show_bars and job.state == "running":
            text = progress_text(progress) if job.kind == "train" else None
            st.progress(progress_fraction(progress), text=text)
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
    running = any(job.state in ACTIVE_STATES for job in _session_jobs())
    with st.sidebar:
        if running and live:
            st.fragment(run_every=1.0)(_render_status)()
        else:
            _render_status(show_bars=live)
