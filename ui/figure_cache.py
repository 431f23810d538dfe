"""Figures kept between reruns: once per process for a model every session can pick, in the
session's state for a model only this session has. A rerun rebuilds only what changed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from ui.models import SESSION_MODEL_PREFIX

KEY_FIGURES = "evaluate_figures"  # This session's figures of its own models, by key.
MAX_REMEMBERED_FIGURES = 24


# At most 96 figures of shared models in the process (a few models' worth of pages).
@st.cache_resource(show_spinner=False, max_entries=96)
def shared_figure(key: tuple, _build: Callable[[], Any]) -> Any:
    """A figure of a model any session can pick (the default model, a stored run), built
    once per process: every visitor opening Evaluate sees the same ones. Never modify it."""
    return _build()


def remembered_figure(key: tuple, build: Callable[[], Any]) -> Any:
    """Return the figure for `key`, building it only the first time.

    Figures of a shared model (the default model, a stored run) are kept once per process
    for every session; those of a model only this session has (its key starts with the
    model's `SESSION_MODEL_PREFIX` cache key), in its session state, the oldest dropped
    beyond `MAX_REMEMBERED_FIGURES`.
    """
    if not str(key[0]).startswith(SESSION_MODEL_PREFIX):
        return shared_figure(key, build)
    figures_by_key = st.session_state.setdefault(KEY_FIGURES, {})
    if key not in figures_by_key:
        if len(figures_by_key) >= MAX_REMEMBERED_FIGURES:
            figures_by_key.pop(next(iter(figures_by_key)))
        figures_by_key[key] = build()
    return figures_by_key[key]
