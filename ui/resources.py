"""Process-wide resources the pages share: the datasets, the memory budget, the job manager,
the run store, the current-model store and the Train page's start lock."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, cast

import streamlit as st
from streamlit import config as streamlit_config
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from core import settings
from core.data.datasets import Dataset, load_default_dataset, resolve_class_names
from core.jobs.board import JobBoard
from core.jobs.caps import ray_slots
from core.jobs.executors import get_executor
from core.jobs.manager import JobManager
from core.runs import PruneQuota, RunStore, RunStoreError
from core.runs.current_models import CurrentModelStore
from core.runs.engine import Database
from core.singletons import process_singleton
from core.text import plain
from core.visitors.memory_budget import server_budget

logger = logging.getLogger(__name__)

# The name of this session's uploaded dataset; its arrays are held in the memory budget.
KEY_DATASET = "session_dataset"
# `hash_funcs` for a Streamlit cache keyed on a `Dataset`: its fingerprint, not its arrays.
DATASET_HASH: dict[str | type[Any], Callable[[Any], Any]] = {
    Dataset: lambda dataset: dataset.fingerprint
}


@st.cache_resource(show_spinner="Loading the MNIST data…")
def default_dataset():
    """Return the process-wide, read-only dataset from the configured IDX folder."""
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
    context = get_script_run_ctx()
    return context.session_id if context is not None else "no session"


def session_is_alive(session: object) -> bool:
    """Whether a browser session is still connected (True outside a running server)."""
    if not Runtime.exists():
        return True
    return Runtime.instance().is_active_session(str(session))


def memory_budget():
    """Return the server's memory budget (`core.visitors.memory_budget`), its sweeper of ended
    sessions started. Deliberately not a `st.cache_resource`: clients can clear those."""
    budget = server_budget()
    # Released once Streamlit would no longer resume the session either.
    budget.start_sweeper(
        session_is_alive, grace_seconds=streamlit_config.get_option("server.disconnectedSessionTTL")
    )
    return budget


class _RemovesUploadedFiles(Protocol):
    """What Streamlit's `MemoryUploadedFileManager` has and its `UploadedFileManager` protocol
    (the declared type of `Runtime.uploaded_file_mgr`) does not declare."""

    def remove_file(self, session_id: str, file_id: str) -> None: ...


# Sessions whose uploaded files the memory budget released (most recent last, bounded): their
# uploader may still list a file the server no longer has, and Streamlit then gives None.
_released_upload_sessions: OrderedDict[str, None] = OrderedDict()
_released_lock = threading.Lock()
MAX_RELEASED_SESSIONS = 10_000


def uploads_released(session: str) -> bool:
    """Whether the memory budget released an uploaded file of this browser session."""
    with _released_lock:
        return session in _released_upload_sessions


def remove_uploaded_file(session: str, file_id: str) -> None:
    """Drop an uploaded file from Streamlit's store (the memory budget released it)."""
    with _released_lock:
        _released_upload_sessions[session] = None
        _released_upload_sessions.move_to_end(session)
        while len(_released_upload_sessions) > MAX_RELEASED_SESSIONS:
            _released_upload_sessions.popitem(last=False)
    if Runtime.exists():
        files = cast(_RemovesUploadedFiles, Runtime.instance().uploaded_file_mgr)
        files.remove_file(session, file_id)


def _new_job_manager(database: Database):
    slots = settings.max_concurrent_jobs()
    manager = JobManager(
        max_concurrent=slots,
        max_job_seconds=settings.limits().max_job_seconds,
        board=JobBoard(database),
    )
    # On a Ray cluster, as many jobs run at once as it has CPUs (at least the app's setting),
    # shared between the app processes that use it.
    processes = settings.app_processes()
    get_executor().start(lambda cpus: manager.set_max_concurrent(ray_slots(cpus, slots, processes)))
    return manager


def job_manager():
    """Return the process-wide job manager (its jobs train here or on a Ray cluster).

    Its jobs are mirrored in the run store's database (`core.jobs.board`), so every app
    process on that database sees them and counts them in the caps. A process singleton per
    database, not a `st.cache_resource` entry: it holds the queue and every job's Stop
    handle, which a client's cache clear must not reset.
    """
    database = run_store().database
    return process_singleton(("job_manager", database.url), lambda: _new_job_manager(database))


def executor_notice() -> None:
    """Say on the page when jobs run on this server although a Ray cluster is configured."""
    message = get_executor().status_message()
    if message:
        st.sidebar.warning(message, icon=":material/cloud_off:")


def _run_store(folder: str, quota: tuple, database_url: str | None, max_model_bytes: int | None):
    # A process singleton per folder, quota and database: the store enforces the run quotas.
    return process_singleton(
        ("run_store", folder, quota, database_url, max_model_bytes),
        lambda: RunStore(
            Path(folder),
            **vars(PruneQuota(*quota)),
            database_url=database_url,
            max_model_bytes=max_model_bytes,
        ),
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
    try:
        return _run_store(
            str(settings.runs_dir()), quota, settings.database_url(), limits.max_model_bytes
        )
    except RunStoreError as error:
        # A setting that cannot work (a wrong database_url, a folder that cannot be made):
        # the page says so, once, instead of a traceback; the log says it once per process.
        _log_once(str(error))
        st.error(plain(str(error), 400), icon=":material/database:")
        st.stop()


_LOGGED: set[str] = set()


def _log_once(message: str) -> None:
    if message not in _LOGGED:
        _LOGGED.add(message)
        logger.error("%s", message)


KEY_DEAD_RUNS_LOOKED_FOR = "_runs_of_dead_processes_looked_for"


def run_store_banner() -> str | None:
    """Say at the top of the page when runs can be neither read nor saved (the database is
    down or damaged); return that sentence, or None when the store works.

    A session's first page also records the runs of app processes that died as
    interrupted. The store does so every few heartbeats, but a visitor whose process was
    killed reloads onto another one at once, and their training must be there on that load.
    """
    store = run_store()
    message = store.unavailable()
    if message:
        st.error(plain(message, 400), icon=":material/database:")
        return message
    if not st.session_state.get(KEY_DEAD_RUNS_LOOKED_FOR):
        st.session_state[KEY_DEAD_RUNS_LOOKED_FOR] = True
        store.recover_interrupted()
    return None


def current_model_store_in(folder: str, database_url: str | None):
    # In the run store's database (one connection pool); on SQLite, an earlier version's
    # current_models.sqlite in the folder is imported once.
    return process_singleton(
        ("current_models", folder, database_url),
        lambda: CurrentModelStore(run_store().database, legacy_folder=folder),
    )


def current_model_store():
    """Return the store that remembers each visitor's current model, in the run store's
    database (a wrong database_url stops the page with its sentence, as `run_store` does).
    Its methods raise ``sqlalchemy.exc.DBAPIError`` while the database is down."""
    return current_model_store_in(str(settings.runs_dir()), settings.database_url())


def training_start_lock():
    """Return the process-wide lock the Train page holds while it checks for a visitor's
    running training and starts one, so two tabs pressing at once start one job (a process
    singleton: a cache clear must not hand a second tab a second lock)."""
    return process_singleton("training_start_lock", threading.Lock)
