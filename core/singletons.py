"""Objects made once per process and kept for its whole life, whatever any cache does.

State that enforces limits or owns running work (the job manager with its caps, queue and
Stop handles; the lock around starting a training; the stores that count a visitor's runs)
must outlive every cache: Streamlit clears `st.cache_resource` for all users when any
client asks it to (a `BackMsg` with `clear_cache`), which would reset every cap and orphan
every running job. Such objects are made here instead, keyed by what they depend on (e.g.
the run store's folder). Derived data that can be rebuilt (a data set, a loaded model) may
stay in Streamlit's caches. This module keeps its registry in memory only and imports no
Streamlit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")

# Reentrant: a factory may ask for another singleton (e.g. the job manager for its store).
_lock = threading.RLock()
_objects: dict[Hashable, Any] = {}


def process_singleton(key: Hashable, factory: Callable[[], T]) -> T:
    """Return the one object of this process for `key`, made by `factory` the first time.

    Two threads asking at once get the same object: the factory runs once, under a lock.

    Args:
        key: Names the object and what it depends on, e.g. ``("run_store", folder)``.
        factory: Makes the object; called at most once per key and process.

    Returns:
        The object made for `key`.
    """
    with _lock:
        if key not in _objects:
            _objects[key] = factory()
        return _objects[key]
