"""This visitor's current model, the shipped default model and the model picker (Evaluate, Draw)."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st
from sqlalchemy.exc import DBAPIError

from core import settings
from core.inspection import novelty
from core.nn.config import TrainingConfig
from core.runs import MissingModelFileError, RunNotFoundError, RunStoreError
from core.runs.display import display_name, short_name
from core.runs.model_files import sha256_of
from core.text import plain
from ui.identity import session_id
from ui.resources import current_model_store, run_store
from ui.visitor_runs import run_numbers, stored_networks

KEY_CURRENT_MODEL = "current_model"
# True while the current-model store has not heard of the session's current model.
KEY_CURRENT_UNREMEMBERED = "current_model_unremembered"
DEFAULT_MODEL_DIR = settings.PROJECT_ROOT / "models" / "default"


@dataclass(frozen=True)
class CurrentModel:
    """The model the Evaluate and Draw pages use by default for this session."""

    model: Any
    label: str
    config: Any = None
    run_id: str | None = None


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
    if session_model is not None and st.session_state.get(KEY_CURRENT_UNREMEMBERED):
        # The store missed this session's last choice (its database was away): tell it now,
        # and never let the store's older record replace the model the visitor has.
        if _remember(session_model.run_id, session_model.label):
            st.session_state[KEY_CURRENT_UNREMEMBERED] = False
        return session_model
    try:
        record = current_model_store().get(session_id())
    except (OSError, sqlite3.Error, DBAPIError, RunStoreError):
        return session_model
    if record is None or (session_model is not None and session_model.run_id == record.run_id):
        return session_model
    try:
        run = run_store().get_run(record.run_id)  # still there? (a cached model may outlive it)
        restored = CurrentModel(
            stored_model(record.run_id),
            record.label,
            TrainingConfig.from_dict(run.config),
            record.run_id,
        )
    except (OSError, ValueError, DBAPIError) as error:
        if isinstance(error, RunNotFoundError | MissingModelFileError):
            # The run was deleted or pruned since: nothing to come back to.
            with contextlib.suppress(OSError, sqlite3.Error, DBAPIError, RunStoreError):
                current_model_store().forget(session_id())
        return session_model
    st.session_state[KEY_CURRENT_MODEL] = restored
    return restored


def set_current_model(model, label: str, config=None, run_id: str | None = None) -> None:
    """Make a trained model this visitor's current model (remembered if it is a stored run)."""
    st.session_state[KEY_CURRENT_MODEL] = CurrentModel(
        model=model, label=label, config=config, run_id=run_id
    )
    # When the store cannot take it now, the session keeps the model and tells the store later.
    st.session_state[KEY_CURRENT_UNREMEMBERED] = not _remember(run_id, label)


def _remember(run_id: str | None, label: str) -> bool:
    """Tell the current-model store this visitor's choice; False when it cannot be reached."""
    try:
        if run_id is None:
            current_model_store().forget(session_id())
        else:
            current_model_store().set(session_id(), run_id, label)
    except (OSError, sqlite3.Error, DBAPIError, RunStoreError):
        return False
    return True


@st.cache_resource(show_spinner="Loading the default model…")
def default_model() -> tuple[Any, dict] | None:
    """Return the shipped default model and its metadata, or None if it is not there.

    Returns:
        ``(model, metadata)`` where metadata is the parsed ``models/default/model.json``.
    """
    model_path = DEFAULT_MODEL_DIR / "model.keras"
    if not model_path.exists():
        return None
    import keras  # Here, not at the top: Keras takes seconds to import (start-up time).

    model = keras.saving.load_model(model_path, safe_mode=True)
    metadata_path = DEFAULT_MODEL_DIR / "model.json"
    metadata = json.loads(metadata_path.read_text()) if metadata_path.exists() else {}
    return model, metadata


def default_model_reference():
    """The Draw page's saved `Reference` for the shipped model (`novelty.REFERENCE_FILE`), or
    None when it is missing or was built for another model file (the page then builds one)."""
    model_path = DEFAULT_MODEL_DIR / "model.keras"
    try:
        digest = sha256_of(model_path)
    except OSError:
        return None
    return novelty.load_reference(DEFAULT_MODEL_DIR / novelty.REFERENCE_FILE, digest)


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
    # Streamlit forgets a widget's value on a page that did not show it: the choice is kept
    # under its own key too, so a visitor who comes back finds the model they picked, unless
    # a newer current model arrived since (the Train page says it becomes the pages' model).
    kept_key = f"{page}_model_kept"
    current = choices[CURRENT_CHOICE].label if CURRENT_CHOICE in choices else None
    kept = st.session_state.get(kept_key)
    if isinstance(kept, tuple) and kept[0] in keys and kept[1] == current:
        start = keys.index(kept[0])
    choice = st.selectbox(
        label,
        keys,
        index=start,
        key=f"{page}_model",
        format_func=lambda key: choices[key].label if key in choices else key,
    )
    st.session_state[kept_key] = (choice, current)
    try:
        return load_model_choice(choice)
    except (OSError, ValueError) as error:
        st.error(f"This model cannot be used: {plain(error, 300)}")
        st.stop()
