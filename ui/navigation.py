"""The app's pages and how Streamlit runs them: the page list, URL paths, two Streamlit
patches (Keras state kept between runs, the demo's ignored cache clears) and the page-run slot."""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from streamlit.runtime.app_session import AppSession
from streamlit.runtime.scriptrunner import script_runner

from core import settings
from core.singletons import process_singleton


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
    PageSpec("app_pages/classroom.py", "Class", ":material/school:"),
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
    current = getattr(script_runner, "_clean_problem_modules", None)
    if current is None or getattr(current, "keeps_keras_state", False):
        return  # another Streamlit version, or done already

    def clean_problem_modules_but_keras() -> None:
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None:
            pyplot.close("all")

    # Marks on the replacement (set through `__dict__`: mypy does not type function attributes).
    marks = clean_problem_modules_but_keras.__dict__
    marks.update(keeps_keras_state=True, streamlit_original=current)
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
    current = AppSession._handle_clear_cache_request
    if getattr(current, "ignored_in_the_demo", False):
        return

    def clear_cache_unless_demo(self: AppSession) -> None:
        if settings.demo_mode():
            return
        current(self)

    # Marks on the replacement (set through `__dict__`: mypy does not type function attributes).
    clear_cache_unless_demo.__dict__.update(ignored_in_the_demo=True, streamlit_original=current)
    AppSession._handle_clear_cache_request = clear_cache_unless_demo  # type: ignore[method-assign]  # the patch


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
