"""The one place for MNIST Studio's Streamlit glue: pages, cached loaders, session state, sidebar.

Pages import this module; `core` never does. Heavy modules (TensorFlow, the job manager, the
run store) are imported inside the functions that need them, so light pages start fast.
"""

from __future__ import annotations

import html
import json
import math
import re
import sqlite3
import sys
import unicodedata
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from core import settings
from core.jobs.job import ACTIVE_STATES, JobState

# Session-state keys shared by several pages.
KEY_SESSION_ID = "session_id"
# The name of this session's uploaded dataset; its arrays are held in the memory budget.
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


def ignore_client_cache_clears_in_the_demo() -> None:
    """Make the demo profile ignore a client's request to clear the server's caches.

    Streamlit answers a `BackMsg` with `clear_cache` (`AppSession._handle_clear_cache_request`,
    1.67) by clearing `st.cache_data` and `st.cache_resource` for every visitor. The demo's
    toolbar offers no "Clear cache" entry, so only a crafted client sends one, and it would
    make every visitor pay to load the data and the models again. The caps never depended
    on it (the job manager, its lock and the stores are process singletons,
    `core.singletons`); this only keeps one visitor from emptying everyone's caches.
    Locally the request is honoured as before. Called first by `app.py`; idempotent.
    """
    from streamlit.runtime.app_session import AppSession

    current = AppSession._handle_clear_cache_request
    if getattr(current, "ignored_in_the_demo", False):
        return

    def clear_cache_unless_demo(session: AppSession) -> None:
        if settings.demo_mode():
            return
        current(session)

    clear_cache_unless_demo.ignored_in_the_demo = True
    clear_cache_unless_demo.streamlit_original = current
    AppSession._handle_clear_cache_request = clear_cache_unless_demo


# Page runs that may compute at once in this process; the others wait (without the GIL) for
# a turn, so a burst of new sessions cannot starve the server's event loop (bench/README.md,
# "Caps that survive a cache clear ..."). A run waits at most this long, then goes ahead.
MAX_CONCURRENT_PAGE_RUNS = 4
PAGE_RUN_WAIT_SECONDS = 30.0


class page_run_slot:  # noqa: N801 (used as a context manager, like a lock)
    """Hold one of the process's `MAX_CONCURRENT_PAGE_RUNS` turns while a page runs.

    `app.py` runs the page inside it. Fragments (live progress) do not take a turn. A run
    that waited `PAGE_RUN_WAIT_SECONDS` goes ahead anyway, so nothing can wait for ever.
    """

    def __enter__(self) -> None:
        import threading

        from core.singletons import process_singleton

        slots = process_singleton(
            "page_run_slots", lambda: threading.BoundedSemaphore(MAX_CONCURRENT_PAGE_RUNS)
        )
        self._slots = slots if slots.acquire(timeout=PAGE_RUN_WAIT_SECONDS) else None

    def __exit__(self, *exc_info) -> None:
        if self._slots is not None:
            self._slots.release()


def url_path(page: PageSpec) -> str:
    """Return the page's URL path, as st.navigation derives it from the file name."""
    return Path(page.path).stem


def page_path(name: str) -> str:
    """Return the script path of the page whose file is `app_pages/<name>.py`, for st.page_link."""
    return f"app_pages/{name}.py"


# --- Visitor identity ---------------------------------------------------------------------

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
    from core.visitors import identity as visitors

    return visitors.visitor_id_from_cookie_header(st.context.headers.get_all("cookie"))


# --- Text from visitors and links --------------------------------------------------------

# Characters that start markdown or HTML in Streamlit anywhere on a line: emphasis, code,
# links and images (brackets), HTML and autolinks, strikethrough, LaTeX, entities, colour
# directives and table cells.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>~$&|{}])")
# Streamlit turns "https://...", "www.x.y" and "me@x.y" into links and ":material/name:" into
# an icon after the markdown is parsed, so escapes do not stop them; an invisible word joiner
# after the colon, the at sign or "www" does.
_AFTER_LINK_MARKERS = re.compile(r"(:(?=\S)|@|www(?=\.))", re.IGNORECASE)
WORD_JOINER = "\u2060"
# At the start of a line, "#", ">", "-", "+", "=" and "1." or "1)" start a block.
_NUMBERED_ITEM = re.compile(r"^(\d+)[.)]")
PLAIN_MAX_LENGTH = 120


def plain(text: Any, max_len: int = PLAIN_MAX_LENGTH) -> str:
    """Return text a visitor or a link supplied, made safe to put inside Streamlit markdown.

    Streamlit renders `st.markdown`, `st.caption`, `st.info/warning/error/success`, `st.toast`,
    headers, image captions and widget labels as markdown, so a run name or a link value such
    as ``**[log in](https://evil.example)** ![t](https://evil.example/pixel.png)`` would become
    a working link and a fetched image. Here the characters that open markup are
    backslash-escaped (no link, image, emphasis, code, HTML, LaTeX or directive survives); an
    invisible word joiner breaks what Streamlit turns into a link or an icon after parsing
    (``https://``, ``www.``, ``@``, ``:material/``); line breaks, control characters and
    invisible formatting characters (e.g. right-to-left overrides) become spaces or go; and
    the text is cut to `max_len` characters. Ordinary punctuation (``.,;'"()=-`` and a colon
    before a space) is left as it is, so messages read the same.

    Args:
        text: The text (anything; it is converted with `str`).
        max_len: The most characters shown; longer text ends with an ellipsis.

    Returns:
        Markdown that displays as the text itself.
    """
    cleaned = "".join(
        character
        for character in " ".join(str(text).split())
        if unicodedata.category(character) not in ("Cc", "Cf", "Co", "Cs")
    )
    if len(cleaned) > max_len:
        cleaned = cleaned[: max(max_len - 1, 0)] + "…"
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", cleaned)
    escaped = _AFTER_LINK_MARKERS.sub(lambda marker: marker.group(1) + WORD_JOINER, escaped)
    if escaped[:1] and escaped[0] in "#>+=-":
        escaped = "\\" + escaped
    elif numbered := _NUMBERED_ITEM.match(escaped):
        escaped = numbered.group(1) + "\\" + escaped[numbered.end(1) :]
    return escaped


def figure_text(text: Any, max_len: int = PLAIN_MAX_LENGTH) -> str:
    """Return visitor-supplied text for a Plotly legend, title or hover label, shown as text.

    Plotly renders a subset of HTML in those (``<a href>`` becomes a working link), so
    ``&``, ``<`` and ``>`` are escaped; quotes are left alone, since Plotly would show
    ``&quot;`` as it is. Line breaks go and the text is cut to `max_len` characters.
    """
    cleaned = " ".join(str(text).split())
    if len(cleaned) > max_len:
        cleaned = cleaned[: max(max_len - 1, 0)] + "…"
    return html.escape(cleaned, quote=False)


# --- Per-session identity -----------------------------------------------------------------


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
    running = [job.id for job in manager.jobs(owner=former) if not job.done]
    manager.transfer_owner(former, visitor)
    if running:
        # Their runs are saved under the former id when they end: moved over once they have.
        pending = dict(st.session_state.get(KEY_ADOPTION_PENDING) or {})
        pending[former] = running
        st.session_state[KEY_ADOPTION_PENDING] = pending
    try:
        run_store().transfer_owner(former, visitor)
        _current_model_store().transfer(former, visitor)
    except (OSError, ValueError, sqlite3.Error):
        pass  # A store that cannot be written keeps the runs where they are; Compare says why.


def _finish_adoption(visitor: str) -> None:
    """Move the runs that jobs adopted from a former id saved under it since."""
    pending = dict(st.session_state[KEY_ADOPTION_PENDING])
    manager = job_manager()
    for former, job_ids in list(pending.items()):
        try:
            run_store().transfer_owner(former, visitor)
        except (OSError, ValueError, sqlite3.Error):
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
    from core.visitors.identity import address_for_limits

    return address_for_limits(st.context.ip_address)


# --- Data ---------------------------------------------------------------------------------


@st.cache_resource(show_spinner="Loading the MNIST data…")
def default_dataset():
    """Return the process-wide, read-only dataset from the configured IDX folder."""
    from core.data.datasets import load_default_dataset

    return load_default_dataset()


def current_dataset():
    """Return this session's dataset: an uploaded one if set, else the default.

    An uploaded dataset lives in the server's memory budget (`memory_budget()`); when the
    budget released it to make room for others, the page says so and the default is back.
    When the configured data folder cannot be read, the page shows the reader's message and
    stops instead of failing with a traceback.
    """
    held = st.session_state.get(KEY_DATASET)
    if isinstance(held, str):
        dataset = memory_budget().get(memory_owner(), DATASET_ITEM)
        if dataset is not None:
            return dataset
        st.session_state.pop(KEY_DATASET, None)
        st.warning(DATASET_RELEASED)
    elif held is not None:
        return held  # A Dataset set directly (tests do).
    else:
        # Nothing remembered (e.g. after a client's cache clear): nothing to keep for it.
        memory_budget().release(memory_owner(), DATASET_ITEM)
    try:
        return default_dataset()
    except (OSError, ValueError) as error:
        st.error(f"The dataset could not be loaded: {error}")
        st.info(
            "Check the `data_dir` setting (environment variable `MNIST_STUDIO_DATA_DIR` or "
            "`.streamlit/secrets.toml`); it must name a folder with the four IDX files."
        )
        st.stop()


def class_names_for(num_classes: int) -> tuple[str, ...]:
    """Return the names a model's `num_classes` classes have on the pages.

    A model's classes are named as this session's data set names them (e.g. "Sneaker" for
    Fashion-MNIST, "7" for MNIST); when that data set has another number of classes, they
    are named by their indices.
    """
    from core.data.datasets import resolve_class_names

    names = current_dataset().class_names
    return tuple(names) if len(names) == num_classes else resolve_class_names(None, num_classes)


def set_session_dataset(dataset) -> None:
    """Make `dataset` this session's dataset (None goes back to the default).

    Raises:
        core.visitors.memory_budget.MemoryBudgetError: If the dataset alone is over the budget.
    """
    budget, owner = memory_budget(), memory_owner()
    if dataset is None:
        budget.release(owner, DATASET_ITEM)
        st.session_state.pop(KEY_DATASET, None)
        return
    arrays = (dataset.train_images, dataset.train_labels, dataset.test_images, dataset.test_labels)
    budget.hold(owner, DATASET_ITEM, dataset, sum(array.nbytes for array in arrays))
    st.session_state[KEY_DATASET] = dataset.name


# --- What visitors make the server hold ---------------------------------------------------

DATASET_ITEM = "uploaded_dataset"
DATASET_RELEASED = (
    "Your uploaded data set was released to free memory on this shared server; upload it "
    "again (Explore, Your own files) to keep working with it. Meanwhile the pages use the "
    "default data set."
)

FILES_RELEASED = (
    "Your uploaded files were released to free memory on this shared server; remove them "
    "(×) and upload them again."
)


def memory_owner() -> str:
    """Return this browser session's id: what it holds in the memory budget is released
    when the session ends."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    context = get_script_run_ctx()
    return context.session_id if context is not None else "no session"


def session_is_alive(session: object) -> bool:
    """Whether a browser session is still connected (True outside a running server)."""
    from streamlit.runtime import Runtime

    if not Runtime.exists():
        return True
    return Runtime.instance().is_active_session(str(session))


def memory_budget():
    """Return the server's memory budget (`core.visitors.memory_budget`), its sweeper of ended
    sessions started. Deliberately not a `st.cache_resource`: clients can clear those."""
    from streamlit import config

    from core.visitors.memory_budget import server_budget

    budget = server_budget()
    # Released once Streamlit would no longer resume the session either.
    budget.start_sweeper(
        session_is_alive, grace_seconds=config.get_option("server.disconnectedSessionTTL")
    )
    return budget


def remove_uploaded_file(session: str, file_id: str) -> None:
    """Drop an uploaded file from Streamlit's store (the memory budget released it)."""
    from streamlit.runtime import Runtime

    if Runtime.exists():
        Runtime.instance().uploaded_file_mgr.remove_file(session, file_id)


# --- Jobs and runs ------------------------------------------------------------------------


def _new_job_manager():
    from core.jobs.executors import get_executor
    from core.jobs.manager import JobManager

    slots = settings.max_concurrent_jobs()
    manager = JobManager(max_concurrent=slots, max_job_seconds=settings.limits().max_job_seconds)
    # On a Ray cluster, as many jobs run at once as it has CPUs (at least the app's setting).
    get_executor().start(lambda cpus: manager.set_max_concurrent(max(slots, cpus)))
    return manager


def job_manager():
    """Return the process-wide job manager (its jobs train here or on a Ray cluster).

    A process singleton, not a `st.cache_resource` entry: it holds the caps' counts, the
    queue and every job's Stop handle, which a client's cache clear must not reset.
    """
    from core.singletons import process_singleton

    return process_singleton("job_manager", _new_job_manager)


def executor_notice() -> None:
    """Say on the page when jobs run on this server although a Ray cluster is configured."""
    from core.jobs.executors import get_executor

    message = get_executor().status_message()
    if message:
        st.sidebar.warning(message, icon=":material/cloud_off:")


def _run_store(folder: str, quota: tuple):
    from core.runs import PruneQuota, RunStore
    from core.singletons import process_singleton

    # A process singleton per folder and quota: the store enforces the run quotas.
    return process_singleton(
        ("run_store", folder, quota), lambda: RunStore(Path(folder), **vars(PruneQuota(*quota)))
    )


def run_store():
    """Return the run store in the configured folder (one per folder per process)."""
    limits = settings.limits()
    quota = (
        limits.max_runs,
        limits.max_run_age_days,
        limits.max_runs_per_visitor,
        limits.max_store_bytes,
        limits.max_bytes_per_visitor,
        limits.protected_runs_per_visitor,
        limits.protected_runs_per_address,
        limits.max_runs_per_address_per_day,
    )
    return _run_store(str(settings.runs_dir()), quota)


def runs_owner() -> str | None:
    """Return the owner whose runs this session sees: itself in the demo, else everyone."""
    return session_id() if settings.limits().runs_per_session else None


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
        import pandas as pd

        from core.runs import LIST_COLUMNS

        return pd.DataFrame(columns=LIST_COLUMNS)
    return runs[(runs["kind"] == "network") & runs["has_model"]]


def submit_job(name: str, fn, kind: str = "train"):
    """Submit a job for this visitor, within the caps in force (`core.settings.limits`).

    The caps (jobs per visitor, per network address and in the whole queue) are checked by
    `core.jobs.manager.JobManager.submit` atomically with the queueing.

    Raises:
        core.jobs.caps.JobLimitError: A cap is reached; its message says which and what to do.
    """
    from core.jobs.caps import JobCaps

    limits = settings.limits()
    caps = JobCaps(
        max_per_owner=limits.max_jobs_per_visitor,
        max_per_address=limits.max_jobs_per_address,
        max_queue=limits.max_queue,
    )
    return job_manager().submit(
        name, fn, owner=session_id(), kind=kind, address=visitor_address(), caps=caps
    )


# --- Budgets ------------------------------------------------------------------------------


def show_budget(config, dataset) -> bool:
    """Show what a training of `config` will cost and its limits; False when over budget.

    One line of figures (images, operations, memory estimate, time limit), then an error
    for each cap it breaks, so the page can disable its Train button with the reason shown.
    """
    from core.nn.budget import describe, job_budget

    budget = job_budget(config, len(dataset.train_images), settings.limits(), dataset.num_classes)
    st.caption(
        "Budget: " + " · ".join(f"{label}: {value}" for label, value in describe(budget)),
        help="Operations are multiplications and additions: per image, times images, times "
        "epochs. The memory estimate counts the weights with their optimizer state, one "
        "batch's activations and the training images.",
    )
    for problem in budget.problems:
        st.error(problem)
    return not budget.problems


def show_stop_reason(job) -> bool:
    """Say why the app stopped a job (its time limit); True when it ended without a model."""
    if job.stop_reason is None:
        return False
    if job.state == JobState.TIMED_OUT:
        st.error(job.stop_reason)
        return True
    st.warning(job.stop_reason)
    return False


# --- Sweeps -------------------------------------------------------------------------------


def sweep_early_stopping_ui(configs: list) -> bool:
    """Draw the sweep's "Stop hopeless members early (ASHA)" checkbox; True when it is on.

    It says after which epochs members are judged and on what figure; it is disabled, with
    the reason, when no member trains past the first rung (there would be nothing to stop).
    """
    from core.jobs.sweeps import EARLY_STOPPING_METRICS, SuccessiveHalving, early_stopping_metric

    if not configs:
        return False
    metric = early_stopping_metric(configs)
    rule = SuccessiveHalving(max(config.epochs for config in configs), metric)
    rungs = sorted(int(rung) for rung in rule.rungs)
    possible = any(config.epochs > rungs[0] for config in configs)
    after = ", ".join(map(str, rungs[:-1])) + (" and " if len(rungs) > 1 else "") + str(rungs[-1])
    enabled = st.checkbox(
        "Stop hopeless members early (ASHA)",
        key="compare_sweep_early_stopping",
        disabled=not possible,
        help="Asynchronous successive halving, the rule of Ray Tune's ASHA scheduler: after "
        f"{after} epoch(s) each member is compared with the members that got there before "
        f"it. Unless its {EARLY_STOPPING_METRICS[metric]} is among the best "
        f"1/{rule.reduction_factor:g} of theirs, it stops and keeps its partly trained model. "
        "The first member to get there always goes on.",
    )
    if not possible:
        st.caption(
            f"Early stopping judges members after {rungs[0]} epoch(s): choose more epochs "
            "to use it."
        )
    elif enabled and metric == "accuracy":
        st.caption(
            "This preset keeps no validation images, so members are compared on their "
            "training accuracy."
        )
    return enabled and possible


# --- Models -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CurrentModel:
    """The model the Evaluate and Draw pages use by default for this session."""

    model: Any
    label: str
    config: Any = None
    run_id: str | None = None


def _current_model_store_in(folder: str):
    from core.runs.current_models import CurrentModelStore
    from core.singletons import process_singleton

    return process_singleton(("current_models", folder), lambda: CurrentModelStore(folder))


def _current_model_store():
    """Return the store that remembers each visitor's current model (next to the runs)."""
    return _current_model_store_in(str(settings.runs_dir()))


# At most eight stored models stay loaded in this process, whichever page or visitor loaded them.
@st.cache_resource(show_spinner="Loading the stored model…", max_entries=8)
def _stored_model_in(runs_folder: str, run_id: str):
    return run_store().load_model(run_id)


def stored_model(run_id: str):
    """Return a stored run's model, loaded once per process (the one cached model loader).

    Evaluate, Draw, Compare ("Use as current model") and the current model come back
    through here, so a model is read from disk once and at most eight stay loaded. Never
    modify the returned model: other visitors share it.

    Raises:
        core.runs.RunStoreError: The run is gone, has no model file, or it cannot be read.
    """
    return _stored_model_in(str(settings.runs_dir()), run_id)


def current_model() -> CurrentModel | None:
    """Return this visitor's current model, or None before one was trained or picked.

    The choice is remembered per visitor on the server (`core.runs.current_models`), so a reload
    or another tab of the same browser finds the same model: a stored run is loaded from the
    run store the first time a session needs it.
    """
    session_model = st.session_state.get(KEY_CURRENT_MODEL)
    try:
        record = _current_model_store().get(session_id())
    except (OSError, sqlite3.Error):
        return session_model
    if record is None or (session_model is not None and session_model.run_id == record.run_id):
        return session_model
    try:
        from core.nn.config import TrainingConfig

        run = run_store().get_run(record.run_id)  # still there? (a cached model may outlive it)
        restored = CurrentModel(
            stored_model(record.run_id),
            record.label,
            TrainingConfig.from_dict(run.config),
            record.run_id,
        )
    except (OSError, ValueError) as error:
        from core.runs import MissingModelFileError, RunNotFoundError

        if isinstance(error, RunNotFoundError | MissingModelFileError):
            # The run was deleted or pruned since: nothing to come back to.
            _current_model_store().forget(session_id())
        return session_model
    st.session_state[KEY_CURRENT_MODEL] = restored
    return restored


def set_current_model(model, label: str, config=None, run_id: str | None = None) -> None:
    """Make a trained model this visitor's current model (remembered if it is a stored run)."""
    st.session_state[KEY_CURRENT_MODEL] = CurrentModel(
        model=model, label=label, config=config, run_id=run_id
    )
    try:
        if run_id is None:
            _current_model_store().forget(session_id())
        else:
            _current_model_store().set(session_id(), run_id, label)
    except (OSError, sqlite3.Error):
        pass  # Then it lasts for this browser session only.


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


# --- The model picker (Evaluate, Draw) ------------------------------------------------------

# Option keys of the model picker: the current model, the shipped one, or "run:<id>".
CURRENT_CHOICE = "current"
DEFAULT_CHOICE = "default"
RUN_CHOICE_PREFIX = "run:"
DEFAULT_MODEL_LABEL = "Default model (ships with MNIST Studio)"
SHORT_LABEL_LENGTH = 36
# This session's model object and the random token that names it in process-wide caches.
KEY_MODEL_TOKEN = "model_token"
# How `PickedModel.cache_key` starts for a model only this session has.
SESSION_MODEL_PREFIX = "session:"


@dataclass(frozen=True)
class ModelChoice:
    """One model the picker offers: its full label, and a short one for chart titles."""

    key: str
    label: str
    short_label: str


@dataclass(frozen=True)
class PickedModel:
    """A model loaded from a picker choice, with what the pages need to know about it.

    Attributes:
        choice: The picker's option key (`CURRENT_CHOICE`, `DEFAULT_CHOICE` or "run:<id>").
        model: The Keras model (shared: never modify it).
        config: Its training configuration (a `TrainingConfig` or the default model's dict),
            or None when unknown (an imported model).
        cache_key: Names this model in process-wide caches: "run:<id>" for any stored run
            (current or not), "default", or a random "session:..." token for a model only
            this session has.
        caption: One sentence saying which model it is.
    """

    choice: str
    model: Any
    config: Any
    cache_key: str
    caption: str


def _session_model_key(model) -> str:
    """Return a key that names this session's own model object in process-wide caches."""
    token = st.session_state.get(KEY_MODEL_TOKEN)
    if token is None or token[0] is not model:
        token = (model, uuid.uuid4().hex)
        st.session_state[KEY_MODEL_TOKEN] = token
    return f"{SESSION_MODEL_PREFIX}{token[1]}"


def model_choices() -> dict[str, ModelChoice]:
    """Return every model a page can predict with, by option key, in the picker's order.

    The visitor's current model first, then the visible stored networks with a model file,
    newest first (each once: the current model's run is not repeated), then the shipped
    default model. Stored runs start with their number ("#7 · 784-128-10 … · 95.5%"), so runs
    of the same configuration stay apart.
    """
    import numpy as np

    from core.runs.display import display_name, short_name

    choices: dict[str, ModelChoice] = {}
    numbers = run_numbers()
    current = current_model()
    if current is not None:
        number = numbers.get(current.run_id) if current.run_id else None
        choices[CURRENT_CHOICE] = ModelChoice(
            CURRENT_CHOICE,
            f"Your current model: {display_name(number, current.label)}",
            short_name(number, current.label, SHORT_LABEL_LENGTH),
        )
    for run in stored_networks().itertuples():
        if current is not None and current.run_id == run.id:
            continue
        number = numbers.get(run.id)
        accuracy = "" if np.isnan(run.test_accuracy) else f" · {run.test_accuracy:.1%}"
        key = RUN_CHOICE_PREFIX + run.id
        choices[key] = ModelChoice(
            key,
            f"Stored run: {display_name(number, run.name, run.summary)}{accuracy}",
            short_name(number, run.name, SHORT_LABEL_LENGTH),
        )
    if (DEFAULT_MODEL_DIR / "model.keras").exists():
        choices[DEFAULT_CHOICE] = ModelChoice(DEFAULT_CHOICE, DEFAULT_MODEL_LABEL, "Default model")
    return choices


def load_model_choice(choice: str) -> PickedModel:
    """Load the model of a picker option (stored runs through the one cached loader).

    Raises:
        ValueError: The model is gone, cannot be read, or is not a Keras network; the
            message says which.
    """
    if choice == CURRENT_CHOICE:
        current = current_model()
        if current is None:
            raise ValueError("There is no current model: train one or pick a stored run.")
        key = (
            RUN_CHOICE_PREFIX + current.run_id
            if current.run_id
            else _session_model_key(current.model)
        )
        caption = f"Your current model: {plain(current.label)}."
        return PickedModel(choice, current.model, current.config, key, caption)
    if choice == DEFAULT_CHOICE:
        try:
            loaded = default_model()
        except (OSError, TypeError) as error:
            raise ValueError(f"The shipped default model could not be loaded: {error}") from error
        if loaded is None:
            raise ValueError("The shipped default model is not there.")
        model, metadata = loaded
        caption = (
            f"{metadata.get('summary', 'small CNN')}; test accuracy "
            f"{metadata.get('test_accuracy', float('nan')):.2%}, on MNIST digits re-drawn on a "
            f"canvas {metadata.get('drawn_test_accuracy', float('nan')):.2%}."
        )
        return PickedModel(choice, model, metadata.get("config"), DEFAULT_CHOICE, caption)
    run_id = choice.removeprefix(RUN_CHOICE_PREFIX)
    try:
        model = stored_model(run_id)
        run = run_store().get_run(run_id)
    except OSError as error:
        raise ValueError(f"The stored run could not be read: {error}") from error
    if not hasattr(model, "layers"):
        raise ValueError("This run is a scikit-learn baseline; pick a network.")
    from core.runs.display import display_name

    caption = f"Stored run {plain(display_name(run_numbers().get(run_id), run.name), 200)}."
    return PickedModel(choice, model, run.config, choice, caption)


def model_picker(
    page: str,
    choices: dict[str, ModelChoice] | None = None,
    *,
    prefer_default: bool = False,
    label: str = "Model",
) -> PickedModel:
    """Show the model picker of a page and return the chosen model, loaded.

    The selectbox's key is ``f"{page}_model"``, so each page keeps its own choice. Its
    options are `model_choices()`; without a current model it starts at the newest stored
    run, or at the shipped default model with `prefer_default`. When the chosen model
    cannot be loaded the page shows why and stops (another model can still be picked).

    Args:
        page: The page's key prefix, e.g. ``"evaluate"``.
        choices: The options, when the page already read them; `model_choices()` otherwise.
        prefer_default: Start at the shipped default model when there is no current one.
        label: The selectbox's label.

    Returns:
        The picked model. With no model to offer at all, the page stops with a note.
    """
    choices = model_choices() if choices is None else choices
    if not choices:
        st.info("No model yet: train one on the Train page.")
        st.stop()
    keys = list(choices)
    start = 0
    if prefer_default and CURRENT_CHOICE not in choices and DEFAULT_CHOICE in choices:
        start = keys.index(DEFAULT_CHOICE)
    choice = st.selectbox(
        label,
        keys,
        index=start,
        key=f"{page}_model",
        format_func=lambda key: choices[key].label if key in choices else key,
    )
    try:
        return load_model_choice(choice)
    except (OSError, ValueError) as error:
        st.error(f"This model cannot be used: {plain(error, 300)}")
        st.stop()


# --- Sidebar ------------------------------------------------------------------------------


def training_start_lock():
    """Return the process-wide lock the Train page holds while it checks for a visitor's
    running training and starts one, so two tabs pressing at once start one job (a process
    singleton: a cache clear must not hand a second tab a second lock)."""
    import threading

    from core.singletons import process_singleton

    return process_singleton("training_start_lock", threading.Lock)


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
    active = [job for job in jobs if job.state in ACTIVE_STATES]
    if not active:
        if jobs:
            # A stored training's name says what was trained ("9 of 20 ep, stopped").
            name = getattr(jobs[0].result, "name", None) or jobs[0].name
            st.caption(f"Last job: {plain(name)} ({jobs[0].state})")
        return
    st.caption("Jobs")
    for job in active:
        st.markdown(_job_line(job))
        progress = job.progress or {}
        if show_bars and job.state == JobState.RUNNING:
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
    executor_notice()
    running = any(job.state in ACTIVE_STATES for job in _session_jobs())
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


# --- Links between Explore and Evaluate for one image ---------------------------------------

# Query-parameter value -> which file set an image index counts in.
IMAGE_LINK_SETS = {"train": "training file", "test": "test file"}
MAX_IMAGE_INDEX_DIGITS = 7


def image_link(image_set: str, index: int) -> dict[str, str]:
    """Return the query parameters that open image `index` of `image_set` on another page.

    Args:
        image_set: ``"train"`` or ``"test"``: the file set the index counts in.
        index: The image's index in that file set (as Explore numbers it).
    """
    if image_set not in IMAGE_LINK_SETS:
        raise ValueError(f"image_set must be one of {sorted(IMAGE_LINK_SETS)}, not {image_set!r}.")
    return {"set": image_set, "image": str(int(index))}


def take_image_link(count_of: dict[str, int]) -> tuple[str, int] | None:
    """Read and remove an image link (``?set=train&image=123``) from the page's URL.

    The parameters come from a link anyone may have edited: anything but a known set and a
    whole number within that set's size is ignored. They are removed once read, so the page's
    own widgets decide from then on.

    Args:
        count_of: Number of images in each set, e.g. ``{"train": 60000, "test": 10000}``.

    Returns:
        ``(set, index)``, or None when the URL holds no usable link.
    """
    image_set = st.query_params.get("set")
    image = st.query_params.get("image")
    if image is None:
        return None
    for name in ("set", "image"):
        if name in st.query_params:
            del st.query_params[name]
    image = str(image)[: MAX_IMAGE_INDEX_DIGITS + 1]
    if image_set not in count_of or not image.isdigit() or len(image) > MAX_IMAGE_INDEX_DIGITS:
        return None
    index = int(image)
    return (image_set, index) if index < count_of[image_set] else None
