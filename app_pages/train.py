"""Train: set up a network, train it live in the background, stop it, keep every run."""

from __future__ import annotations

import sys
from collections import ChainMap

import streamlit as st

import ui
from core import settings
from core.data import SCALINGS, SPLITS
from core.figures.training import MAX_SMOOTHING, metric_figure
from core.jobs.board import DEAD_PROCESS_MESSAGE
from core.jobs.job import JobKind, JobState
from core.jobs.progress_text import progress_fraction, progress_text
from core.jobs.tasks import make_training_job, save_training_result
from core.nn import (
    ACTIVATIONS,
    ARCHITECTURES,
    DEFAULT_ADAM_BETA_1,
    DEFAULT_ADAM_BETA_2,
    DEFAULT_PRESET,
    MAX_ADAM_BETA,
    MAX_BATCH_SIZE,
    MAX_DROPOUT,
    MAX_EPOCHS,
    MAX_LEARNING_RATE,
    MAX_SEED,
    MAX_TRAIN_SIZE,
    MAX_VALIDATION_FRACTION,
    MIN_LEARNING_RATE,
    MIN_TRAIN_SIZE,
    OPTIMIZERS,
    PRESETS,
    SCHEDULES,
    TrainingConfig,
    format_sizes,
    learning_rate_for,
    parse_sizes,
    preset_help,
    preset_of,
)
from core.nn.architecture import count_parameters
from core.nn.budget import check_budget, describe, job_budget, training_images
from core.nn.model import build_model, model_summary_table
from core.nn.throughput import estimate
from core.nn.training import TrainingResult
from core.runs.current_models import ADOPT, KEEP_BETTER, after_training
from core.runs.display import training_run_name
from core.runs.training_outcome import completed_epochs, model_label, stopped_text
from core.text import format_duration, plain

# While a training runs its progress bar and figures redraw every POLL_SECONDS, its loss
# and accuracy curves (two plotly figures, most of what a redraw sends) every CURVES_SECONDS.
POLL_SECONDS = 1.0
CURVES_SECONDS = 3.0
# Once Stop is pressed the run ends within a fraction of a second (the chunk of batches that
# is running, then scoring the test images): look that often, so the result shows at once
# rather than up to POLL_SECONDS later (bench/README.md, "Issue 26: records").
STOPPING_POLL_SECONDS = 0.2
# Pixels per figure: two fit side by side on a 390 px phone, four on a desktop.
METRIC_WIDTH = 160
CUSTOM = "Custom"

# Widget keys (all start with "train_").
KEY_PRESET = "train_preset"
KEY_ARCHITECTURE = "train_architecture"
KEY_HIDDEN = "train_hidden_layers"
KEY_FILTERS = "train_conv_filters"
KEY_ACTIVATION = "train_activation"
KEY_DROPOUT = "train_dropout"
KEY_OPTIMIZER = "train_optimizer"
KEY_LEARNING_RATE = "train_learning_rate"
KEY_BATCH = "train_batch_size"
KEY_EPOCHS = "train_epochs"
KEY_SCALING = "train_scaling"
KEY_SPLIT = "train_split"
KEY_VALIDATION = "train_validation_fraction"
KEY_SUBSET = "train_use_subset"
KEY_TRAIN_SIZE = "train_train_size"
KEY_SEED = "train_seed"
KEY_BATCH_NORM = "train_batch_norm"
KEY_SCHEDULE = "train_schedule"
KEY_ADAM_BETA_1 = "train_adam_beta_1"
KEY_ADAM_BETA_2 = "train_adam_beta_2"
KEY_START = "train_start"
KEY_STOP = "train_stop"
# Session keys of this page (not widgets).
KEY_SAVED_CONFIG = "train_saved_config"
KEY_IGNORED = "train_ignored_params"
KEY_HANDLED_JOB = "train_handled_job"
KEY_LEARNING_RATE_TYPED = "train_learning_rate_typed"
# The settings a preset just changed, until the browser shows them: {"changed": widget key
# -> (the value the browser showed before, the preset's value), "fresh": written in this
# run}. See `unseen_preset_values`.
KEY_PRESET_WRITES = "train_preset_writes"

KEY_STARTED_JOB = "train_started_job"
KEY_START_MESSAGE = "train_start_message"
# What the page decided when the latest training ended: (job id, decision, the model that
# is not current but can be made so with one click: (run id, label) or None).
KEY_OUTCOME = "train_current_model_outcome"
KEY_SWITCH = "train_use_other_model"
KEY_SAVE_AGAIN = "train_save_again"
# Job id -> the run id a second try saved its run under (the first save failed).
KEY_SAVED_AGAIN = "train_saved_again"
KEY_LOSS_LOG = "train_loss_log_scale"
KEY_SMOOTHING = "train_smoothing"


# --- Configuration <-> widgets and URL -------------------------------------------------------


def widget_values(config: TrainingConfig) -> dict:
    """Return widget key -> value showing `config`."""
    return {
        KEY_ARCHITECTURE: config.architecture,
        KEY_HIDDEN: format_sizes(config.hidden_layers),
        KEY_FILTERS: format_sizes(config.conv_filters),
        KEY_ACTIVATION: config.activation,
        KEY_DROPOUT: config.dropout,
        KEY_OPTIMIZER: config.optimizer,
        KEY_LEARNING_RATE: config.learning_rate,
        KEY_BATCH: config.batch_size,
        KEY_EPOCHS: config.epochs,
        KEY_SCALING: config.scaling,
        KEY_SPLIT: config.split,
        KEY_VALIDATION: config.validation_fraction,
        KEY_SUBSET: config.train_size is not None,
        KEY_TRAIN_SIZE: config.train_size or 10_000,
        KEY_SEED: config.seed,
        KEY_BATCH_NORM: config.batch_norm,
        KEY_SCHEDULE: config.schedule,
        KEY_ADAM_BETA_1: config.adam_beta_1,
        KEY_ADAM_BETA_2: config.adam_beta_2,
    }


def show_config(config: TrainingConfig) -> None:
    """Put `config` into the widgets (before they are drawn) and remember it."""
    st.session_state.update(widget_values(config))
    st.session_state[KEY_LEARNING_RATE_TYPED] = False
    st.session_state[KEY_SAVED_CONFIG] = config.to_json()


def class_note(parameters: int) -> None:
    """For a student of an open class: the class's challenge, and where this network stands."""
    membership = ui.my_class()
    if membership is None or membership[1].removed or not membership[0].is_open():
        return
    info = membership[0]
    st.info(
        f"Class **{plain(info.title, 60)}**: {plain(info.challenge.describe(), 200)}. "
        + info.challenge.before_training(parameters),
        icon=":material/school:",
    )


def preset_name(config: TrainingConfig) -> str:
    """Return the preset `config` is (whatever its seed: not a preset setting), or "Custom"."""
    return preset_of(config) or CUSTOM


def apply_preset() -> None:
    """Callback of the preset box: load the chosen preset into the widgets.

    The browser keeps showing (and sending back) the old settings until this run's widgets
    reach it; the settings the preset changes are remembered, so that a press of Train (or
    any widget) in that moment cannot bring the old ones back: see `unseen_preset_values`.
    """
    name = st.session_state[KEY_PRESET]
    if name not in PRESETS:
        return
    state = st.session_state
    shown = {key: state.get(key) for key in widget_values(PRESETS[name])}
    show_config(PRESETS[name])
    changed = {key: (before, state[key]) for key, before in shown.items() if before != state[key]}
    # Fresh: this run's widgets show the preset's values because this callback wrote them.
    state[KEY_PRESET_WRITES] = {"changed": changed, "fresh": True}


def unseen_preset_values() -> dict | None:
    """The preset's settings to put back over stale ones the browser sent; None once it
    shows the preset (or the visitor changed its settings), when the page forgets them.

    The browser sends every widget's value with each interaction, and it learns the values
    the preset box's callback wrote only when a run draws those widgets. On a busy server
    the run may have drawn the preset's summary (its parameter count) but not yet the
    settings below it when Train is pressed: the press then sent the settings of before the
    preset, over the preset's, and trained them (Streamlit stops that run for the press).
    So while every setting the preset changed comes back as it was before (none as the
    preset's), the browser has not shown the preset yet and the preset's values stand. A
    visitor's own edit changes one setting at a time, the others already the preset's.
    """
    record = st.session_state.get(KEY_PRESET_WRITES)
    if not record or not record["changed"]:
        return None
    state, writes = st.session_state, record["changed"]
    stale = {key: new for key, (old, new) in writes.items() if state.get(key) == old}
    if not stale or any(state.get(key) == new for key, (_, new) in writes.items()):
        return None
    return stale


def initialise_widgets() -> None:
    """Fill the widgets on the first visit: from the link, else the last settings, else a preset.

    Widget values are lost when a person visits another page, so the page keeps the last
    configuration as JSON and restores it from there.
    """
    if KEY_ARCHITECTURE in st.session_state:
        return
    params = st.query_params.to_dict()
    saved = st.session_state.get(KEY_SAVED_CONFIG)
    if params or saved is None:
        config, ignored = TrainingConfig.from_query_params(params, base=PRESETS[DEFAULT_PRESET])
        if ignored:
            # Shown for as long as the configuration is the one the link gave.
            st.session_state[KEY_IGNORED] = (
                config.to_json(),
                [f"{name}={params[name]}" for name in ignored],
            )
    else:
        config = TrainingConfig.from_json(saved)
    show_config(config)


def values_from_state(overrides: dict | None = None) -> dict:
    """Return the configuration fields as the widgets hold them (text for layer lists).

    Args:
        overrides: Widget key -> value to use instead of the widget's (`unseen_preset_values`).
    """
    state = ChainMap(overrides or {}, st.session_state)
    return {
        "architecture": state[KEY_ARCHITECTURE],
        "hidden_layers": state[KEY_HIDDEN],
        "conv_filters": state[KEY_FILTERS],
        "activation": state[KEY_ACTIVATION],
        "dropout": float(state[KEY_DROPOUT]),
        "optimizer": state[KEY_OPTIMIZER],
        "learning_rate": float(state[KEY_LEARNING_RATE]),
        "batch_size": int(state[KEY_BATCH]),
        "epochs": int(state[KEY_EPOCHS]),
        "scaling": state[KEY_SCALING],
        "split": state[KEY_SPLIT],
        "validation_fraction": float(state[KEY_VALIDATION]),
        "train_size": int(state[KEY_TRAIN_SIZE]) if state[KEY_SUBSET] else None,
        "seed": int(state[KEY_SEED]),
        "batch_norm": bool(state.get(KEY_BATCH_NORM, False)),
        "schedule": state.get(KEY_SCHEDULE, "constant"),
        "adam_beta_1": float(state.get(KEY_ADAM_BETA_1, DEFAULT_ADAM_BETA_1)),
        "adam_beta_2": float(state.get(KEY_ADAM_BETA_2, DEFAULT_ADAM_BETA_2)),
    }


def sync_preset_box() -> None:
    """Show the preset the widgets match, or "Custom" once a person changed something."""
    try:
        st.session_state[KEY_PRESET] = preset_name(config_from(values_from_state()))
    except ValueError:
        st.session_state[KEY_PRESET] = CUSTOM


def architecture_ui() -> None:
    """Draw the architecture controls."""
    st.radio(
        "Network type",
        list(ARCHITECTURES),
        format_func=ARCHITECTURES.get,
        key=KEY_ARCHITECTURE,
        help="A dense network sees the image as 784 numbers. A convolutional front first "
        "slides small 3x3 filters over it to find strokes and corners.",
    )
    st.text_input(
        "Hidden layers (neurons per layer)",
        key=KEY_HIDDEN,
        help="Comma separated, e.g. 128 or 256,128; 'none' for no hidden layer. "
        "0 to 8 layers of 1 to 2,048 neurons.",
    )
    st.text_input(
        "Convolution filters per block",
        key=KEY_FILTERS,
        disabled=st.session_state[KEY_ARCHITECTURE] != "cnn",
        help="Each block is a 3x3 convolution and a 2x2 max pooling, e.g. 32,64.",
    )
    st.selectbox(
        "Activation", list(ACTIVATIONS), format_func=ACTIVATIONS.__getitem__, key=KEY_ACTIVATION
    )
    st.slider("Dropout", 0.0, MAX_DROPOUT, step=0.05, key=KEY_DROPOUT)
    st.checkbox(
        "Batch normalisation",
        key=KEY_BATCH_NORM,
        help="Rescales each layer's sums over the batch before the activation, so deeper "
        "networks learn fast with a larger learning rate.",
    )


def propose_learning_rate() -> None:
    """Callback of the optimizer box: its own default rate, unless the person typed one."""
    if unseen_preset_values() is not None:
        return  # The browser sent the optimizer from before a preset: the preset's stands.
    state = st.session_state
    state[KEY_LEARNING_RATE] = learning_rate_for(
        state[KEY_OPTIMIZER], state[KEY_LEARNING_RATE], state.get(KEY_LEARNING_RATE_TYPED, False)
    )


def remember_typed_learning_rate() -> None:
    """Callback of the learning-rate box: keep this rate when the optimizer changes."""
    if unseen_preset_values() is not None:
        return  # The rate from before a preset, not a typed one.
    st.session_state[KEY_LEARNING_RATE_TYPED] = True


def optimisation_ui() -> None:
    """Draw the optimisation controls."""
    st.selectbox(
        "Optimizer",
        list(OPTIMIZERS),
        format_func=lambda name: OPTIMIZERS[name].label,
        key=KEY_OPTIMIZER,
        on_change=propose_learning_rate,
    )
    st.number_input(
        "Learning rate",
        min_value=MIN_LEARNING_RATE,
        max_value=MAX_LEARNING_RATE,
        step=0.0005,
        format="%.6f",
        key=KEY_LEARNING_RATE,
        on_change=remember_typed_learning_rate,
    )
    not_adam = st.session_state[KEY_OPTIMIZER] != "adam"
    betas = st.columns(2)
    betas[0].number_input(
        "Adam beta 1",
        0.0,
        MAX_ADAM_BETA,
        step=0.05,
        format="%.4f",
        key=KEY_ADAM_BETA_1,
        disabled=not_adam,
        help="How much of its past gradients each Adam step remembers (0.9 by default); "
        "lower follows the latest batches more closely.",
    )
    betas[1].number_input(
        "Adam beta 2",
        0.0,
        MAX_ADAM_BETA,
        step=0.01,
        format="%.4f",
        key=KEY_ADAM_BETA_2,
        disabled=not_adam,
        help="How long Adam averages squared gradients to size each weight's step (0.999 by "
        "default); lower adapts the steps faster, which pays in a training of few epochs.",
    )
    st.selectbox(
        "Learning-rate schedule",
        list(SCHEDULES),
        format_func=SCHEDULES.__getitem__,
        key=KEY_SCHEDULE,
        help="Large steps early, small careful steps at the end usually reach a better "
        "accuracy in the same epochs.",
    )
    st.number_input("Batch size", 1, MAX_BATCH_SIZE, step=32, key=KEY_BATCH)
    st.number_input("Epochs", 1, MAX_EPOCHS, step=1, key=KEY_EPOCHS)


def data_ui() -> None:
    """Draw the data controls."""
    st.radio(
        "Input scaling",
        list(SCALINGS),
        format_func=lambda name: SCALINGS[name].label,
        key=KEY_SCALING,
    )
    st.selectbox(
        "Train/test split",
        list(SPLITS),
        format_func=lambda name: SPLITS[name].label,
        key=KEY_SPLIT,
    )
    st.slider("Validation fraction", 0.0, MAX_VALIDATION_FRACTION, step=0.05, key=KEY_VALIDATION)
    st.checkbox("Train on a subset (quicker)", key=KEY_SUBSET)
    st.number_input(
        "Training images",
        MIN_TRAIN_SIZE,
        MAX_TRAIN_SIZE,
        step=1000,
        key=KEY_TRAIN_SIZE,
        disabled=not st.session_state[KEY_SUBSET],
    )
    st.number_input("Random seed", 0, MAX_SEED, step=1, key=KEY_SEED)


def config_from(values: dict) -> TrainingConfig:
    """Build the configuration from the widgets' values (raises ValueError)."""
    values = dict(values)
    values["hidden_layers"] = parse_sizes(values["hidden_layers"])
    values["conv_filters"] = parse_sizes(values["conv_filters"])
    return TrainingConfig(**values)


@st.cache_data(show_spinner=False, max_entries=64)
def summary_table(config_json: str, num_classes: int):
    """The model's layer table (built once per configuration)."""
    return model_summary_table(build_model(TrainingConfig.from_json(config_json), num_classes))


def training_estimate_text(config: TrainingConfig, dataset) -> str:
    """The expected training time on this machine, its precision, and what both rest on."""
    expected = estimate(config, training_images(config, len(dataset.train_images)))
    return (
        f"Expected training time: about {format_duration(expected.seconds)} in "
        f"{expected.precision} ({expected.basis})."
    )


# --- Jobs ---------------------------------------------------------------------------------


def show_budget(config, dataset) -> bool:
    """Show what a training of `config` will cost and its limits; False when over budget.

    One line of figures (images, operations, memory estimate, time limit), then an error
    for each cap it breaks, so the page can disable its Train button with the reason shown.
    """
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


def training_jobs() -> list:
    """Return this visitor's training jobs, newest first (other server processes' too)."""
    return ui.visitor_jobs(kind=JobKind.TRAIN)


def latest_training_job():
    """Return this visitor's newest training job (running, queued or done), or None."""
    jobs = training_jobs()
    return jobs[0] if jobs else None


def active_training_job():
    """Return this visitor's queued or running training job (in any process), or None."""
    return next((job for job in training_jobs() if not job.done), None)


def start_training(dataset) -> None:
    """Callback of Train: start one training, unless this visitor already has one.

    Two guards, so a double click or a second tab cannot start a second job: the job this
    page started (session state) and the visitor's active jobs in the job manager.
    """
    started_id = st.session_state.get(KEY_STARTED_JOB)
    started = ui.job_manager().get(started_id) if started_id else None
    with ui.training_start_lock():
        if (started is not None and not started.done) or active_training_job() is not None:
            st.session_state[KEY_START_MESSAGE] = (
                "info",
                "A training is already running: one at a time. Wait for it or press Stop.",
            )
            return
        try:
            # The settings the page showed: a preset's, even when the press came before the
            # browser showed them (its widgets then still send the settings of before).
            config = config_from(values_from_state(unseen_preset_values()))
            check_budget(config, len(dataset.train_images), settings.limits(), dataset.num_classes)
            address = ui.visitor_address()
            ui.run_store().check_room(ui.session_id(), address)
            job = ui.submit_job(
                training_run_name(config, dataset.num_classes),
                make_training_job(
                    config,
                    dataset,
                    ui.run_store(),
                    ui.session_id(),
                    address=address,
                    # Without the demo profile everyone sees every run: names unique among all.
                    names_shared=ui.runs_owner() is None,
                ),
                kind=JobKind.TRAIN,
            )
        except ValueError as error:
            st.session_state[KEY_START_MESSAGE] = ("error", str(error))
            return
    st.session_state[KEY_STARTED_JOB] = job.id


def buttons_ui(active_job, blocked: str | None) -> None:
    """Train, and Stop while a training runs: one training per visitor at a time."""
    with st.container(horizontal=True, key="train_buttons"):
        st.button(
            "Train",
            key=KEY_START,
            type="primary",
            icon=":material/play_arrow:",
            disabled=active_job is not None or blocked is not None,
            on_click=start_training,
            args=(ui.current_dataset(),),
        )
        if active_job is not None:
            elsewhere = ui.runs_elsewhere(active_job)
            st.button(
                "Stopping…" if active_job.stop_requested else "Stop",
                key=KEY_STOP,
                icon=":material/stop:",
                # Another process's job: its process stops it on its next heartbeat.
                on_click=ui.stop_visitor_job if elsewhere else active_job.stop,
                args=(active_job.id,) if elsewhere else None,
                disabled=active_job.stop_requested,
            )
    if active_job is not None:
        st.caption("One training at a time: **Train** comes back when this one ends.")
    message = st.session_state.pop(KEY_START_MESSAGE, None)
    if message is not None:
        kind, text = message
        (st.error if kind == "error" else st.info)(plain(text, 400))


def metrics_row(values: dict[str, str]) -> None:
    """Figures side by side that wrap two to a row on a phone instead of one per screen."""
    with st.container(horizontal=True, gap="medium"):
        for label, value in values.items():
            st.metric(label, value, width=METRIC_WIDTH)


def chart_options_ui() -> tuple[bool, float]:
    """Draw the chart options; return (loss on a log scale, smoothing of the per-batch line)."""
    left, right = st.columns(2)
    log_y = left.toggle(
        "Loss on a log scale",
        key=KEY_LOSS_LOG,
        help="With raw pixels the first loss can be a hundred times the last; a log scale "
        "keeps the rest of the curve readable.",
    )
    smoothing = right.slider(
        "Smoothing of the per-batch line",
        0.0,
        MAX_SMOOTHING,
        value=0.0,
        step=0.01,
        key=KEY_SMOOTHING,
        help="An exponential moving average, as in TensorBoard: 0 shows the raw figures.",
    )
    return log_y, smoothing


def curves(epoch_records, batch_points, epochs: int, key: str) -> None:
    """Loss and accuracy side by side (stacked on a phone), with the chart options."""
    log_y, smoothing = chart_options_ui()
    columns = st.columns(2)
    for column, metric in zip(columns, ("loss", "accuracy"), strict=True):
        figure = metric_figure(
            metric,
            epoch_records,
            batch_points,
            epochs,
            log_y=log_y and metric == "loss",
            smoothing=smoothing,
        )
        column.plotly_chart(figure, key=f"{key}_{metric}", config={"displaylogo": False})


def progress_view(job) -> None:
    """Progress bar, throughput and growing curves of a queued or running job."""
    if job.state == JobState.QUEUED:
        st.info(
            f"**{plain(job.name)}** is waiting in the queue, position {job.queue_position}: "
            "other trainings are using the machine. It starts by itself."
        )
        return
    progress = job.progress
    text = "Stopping…" if job.stop_requested else progress_text(progress)
    st.progress(progress_fraction(progress), text=text)
    speed, loss = progress.get("samples_per_second"), progress.get("loss")
    metrics_row(
        {
            "Images per second": f"{speed:,.0f}" if speed else "–",
            "Elapsed": format_duration(progress.get("elapsed")),
            "Time left (estimate)": format_duration(progress.get("eta")),
            "Training loss": f"{loss:.3f}" if loss is not None else "–",
        }
    )


def live_curves_view(job_id: str) -> None:
    """The growing curves of a running job of this process (nothing once it is done: the
    whole page then reruns and shows the result's curves)."""
    job = ui.job_manager().get(job_id)
    if job is None or job.done or job.state == JobState.QUEUED:
        return
    progress = job.progress
    curves(job.history, progress.get("batch_points", ()), progress.get("epochs") or 1, "train_live")


def current_accuracy() -> float | None:
    """The current model's test accuracy when it is a stored run, else None."""
    current = ui.current_model()
    if current is None or current.run_id is None:
        return None
    try:
        run = ui.run_store().find_run(current.run_id)
    except (OSError, ValueError):
        return None
    return None if run is None else run.test_accuracy


def job_model_label(job) -> str:
    """What the sidebar and the model pickers call an ended training's model."""
    return model_label(job.result.name or job.name, job.result.result.test_accuracy)


def settle_current_model(job) -> None:
    """Make an ended training's model current, or keep a better current model (and say so).

    `core.runs.current_models.after_training` decides; the page remembers the decision and the
    model that is not current now, which the learner can switch to with one click.
    """
    result = job.result.result
    if job.result.decision is not None:  # The job decided on the cluster (and remembered it).
        decision = job.result.decision
        previous, previous_accuracy = job.result.replaced, job.result.replaced_accuracy
    else:
        previous, previous_accuracy = ui.current_model(), current_accuracy()
        decision = after_training(
            result.stopped, completed_epochs(result), result.test_accuracy, previous_accuracy
        )
    other = None
    if decision == ADOPT:
        ui.set_current_model(
            result.model, job_model_label(job), config=result.config, run_id=job.result.run_id
        )
        worse = previous_accuracy is not None and previous_accuracy > result.test_accuracy
        if previous is not None and previous.run_id and worse:
            other = (previous.run_id, previous.label)
    elif decision == KEEP_BETTER and job.result.run_id:
        other = (job.result.run_id, job_model_label(job))
    current = ui.current_model()
    st.session_state[KEY_OUTCOME] = (job.id, decision, current.label if current else None, other)


def use_other_model(job_id: str, run_id: str, label: str) -> None:
    """Callback: make the stored run `run_id` the current model instead."""
    try:
        run = ui.run_store().get_run(run_id)
        model = ui.stored_model(run_id)
        config = TrainingConfig.from_dict(run.config)
        ui.set_current_model(model, label, config=config, run_id=run_id)
    except (OSError, ValueError) as error:
        st.session_state[KEY_START_MESSAGE] = ("error", f"That model could not be loaded: {error}")
        return
    st.session_state[KEY_OUTCOME] = (job_id, ADOPT, label, None)


def current_model_ui(job) -> bool:
    """Say which model is current after this training; return whether it is this one's."""
    outcome = st.session_state.get(KEY_OUTCOME)
    if outcome is None or outcome[0] != job.id:
        # Settled by another tab of this visitor: the current model tells.
        current, run_id = ui.current_model(), job.result.run_id
        return current is not None and run_id is not None and current.run_id == run_id
    _, decision, current_label, other = outcome
    own = current_label == job_model_label(job)
    if decision == KEEP_BETTER and not own:
        st.info(
            f"Your current model stays **{plain(current_label)}**: it scores higher than "
            "this stopped run, so Evaluate and Draw keep using it. (Each is scored on its own "
            "test images; Evaluate's side by side scores both on the same ones.)"
        )
    elif own and other is not None:
        st.info(
            f"This run is now your current model, though your previous one, "
            f"**{plain(other[1])}**, scores higher. (Each is scored on its own test images; "
            "Evaluate's side by side scores both on the same ones.)"
        )
    if other is not None:
        st.button(
            f"Use {'this stopped run' if not own else 'the previous model'} instead",
            key=KEY_SWITCH,
            icon=":material/swap_horiz:",
            on_click=use_other_model,
            args=(job.id, *other),
            help=f"Make {plain(other[1])} the model Evaluate and Draw use.",
        )
    return own


def save_error_ui(job) -> str | None:
    """Say that an ended training's run could not be saved, and offer to save it again.

    The trained model stays in this session (it is the current model), so when the run store
    is back (a database server restarted, a full disk freed) one click stores it.

    Returns:
        The run id a second try saved it under, or None.
    """
    saved = st.session_state.get(KEY_SAVED_AGAIN, {}).get(job.id)
    if saved is not None:
        st.success(f"Saved on a second try as run `{saved}`.")
        return saved
    st.warning(
        f"The run could not be saved: {plain(job.result.save_error, 600)} The trained model "
        "is kept in this browser session (Evaluate and Draw use it); save it again once the "
        "run store is back."
    )
    st.button(
        "Save the run again",
        key=KEY_SAVE_AGAIN,
        icon=":material/save:",
        on_click=save_again,
        args=(job.id,),
    )
    return None


def save_again(job_id: str) -> None:
    """Callback: store a training whose first save failed; its model becomes remembered."""
    job = ui.job_manager().get(job_id)
    if job is None or not job.result:
        return
    result = job.result.result
    try:
        run_id = save_training_result(
            ui.run_store(),
            result,
            ui.current_dataset(),
            ui.session_id(),
            address=ui.visitor_address(),
            names_shared=ui.runs_owner() is None,
        )
    except (OSError, ValueError) as error:
        st.session_state[KEY_START_MESSAGE] = ("error", f"Still not saved: {error}")
        return
    st.session_state.setdefault(KEY_SAVED_AGAIN, {})[job_id] = run_id
    # The session's own current model (`ui.current_model` might read the store's older record).
    current = st.session_state.get(ui.KEY_CURRENT_MODEL)
    if current is not None and current.run_id is None and current.model is result.model:
        ui.set_current_model(result.model, current.label, config=result.config, run_id=run_id)


def result_view(job) -> None:
    """What a finished or stopped job produced."""
    if show_stop_reason(job):
        return
    if job.state == JobState.FAILED:
        st.error(f"The training failed: {plain(job.error, 300)}")
        return
    if job.state == JobState.CANCELLED or not job.result:
        st.info("The training was stopped before it started; the current model is unchanged.")
        return
    result, run_id, note = job.result.result, job.result.run_id, job.result.note
    if job.result.save_error:
        run_id = save_error_ui(job)
    outcome = st.session_state.get(KEY_OUTCOME)
    decision = outcome[1] if outcome and outcome[0] == job.id else None
    if result.stopped:
        st.warning(stopped_text(result, job.progress, decision))
    else:
        st.success("Training finished.")
    adopted = current_model_ui(job)
    metrics_row(
        {
            "Test accuracy": f"{result.test_accuracy:.2%}",
            "Test loss": f"{result.test_loss:.4f}",
            # Short enough for a phone's half-width metric ("34 seconds" was cut to "34 seco…").
            "Training time": f"{result.train_seconds:,.1f} s",
            "Images per second": f"{result.samples_per_second:,.0f}",
        }
    )
    if note:
        st.markdown(f"**Against your previous run:** {note}.")
    st.caption(
        f"Tested on {result.num_test:,} images the network never saw "
        f"(trained on {result.num_train:,}, validated on {result.num_val:,}; "
        f"computed in {result.precision}). "
        + (
            f"Saved as run `{run_id}`, named *{plain(job.result.name)}*. "
            if run_id and job.result.name
            else f"Saved as run `{run_id}`. "
            if run_id
            else ""
        )
        + (
            "It is now your current model for the Evaluate and Draw pages."
            if adopted
            else "It was not made your current model."
            if decision != ADOPT
            else "You chose another model as your current model."
        )
    )
    history = [
        {
            "epoch": index + 1,
            **{key: values[index] for key, values in result.history.items() if index < len(values)},
        }
        for index in range(len(result.history["loss"]))
    ]
    curves(history, job.progress.get("batch_points", ()), result.config.epochs, "train_final")
    links = st.columns(3)
    if adopted:
        links[0].page_link(
            ui.page_path("evaluate"), label="Evaluate it", icon=":material/analytics:"
        )
        links[1].page_link(
            ui.page_path("draw"), label="Draw a digit for it", icon=":material/draw:"
        )
    links[2].page_link(
        ui.page_path("compare"), label="Compare runs", icon=":material/compare_arrows:"
    )


def elsewhere_view(job) -> None:
    """A training that another server process runs: its state and latest figures, read-only."""
    st.caption(ui.ELSEWHERE_CAPTION)
    if job.state == JobState.QUEUED:
        st.info(f"**{plain(job.name)}** is waiting in the queue. It starts by itself.")
    elif not job.done:
        progress = job.progress
        text = "Stopping…" if job.stop_requested else progress_text(progress)
        st.progress(progress_fraction(progress), text=text)
        loss = progress.get("loss")
        metrics_row(
            {
                "Elapsed": format_duration(progress.get("elapsed")),
                "Time left (estimate)": format_duration(progress.get("eta")),
                "Training loss": f"{loss:.3f}" if isinstance(loss, int | float) else "–",
            }
        )
    elif job.state == JobState.FAILED and job.message == DEAD_PROCESS_MESSAGE:
        st.warning(f"**{plain(job.name)}**: {DEAD_PROCESS_MESSAGE}")
    elif job.state == JobState.FAILED:
        st.error(f"**{plain(job.name)}** failed: {plain(job.message or 'no reason given', 400)}")
    else:
        st.info(f"**{plain(job.name)}** {job.state}. Find its run on the Compare page.")


def job_view(job_id: str) -> None:
    """The live part of the page: progress while the job runs, the result when it is done."""
    ui.rerun_when_jobs_change()  # The sidebar leaves this to the page while a training runs.
    job = ui.job_manager().get(job_id)
    if job is None:
        elsewhere = next((other for other in training_jobs() if other.id == job_id), None)
        if elsewhere is not None:
            elsewhere_view(elsewhere)
        return
    if not job.done:
        progress_view(job)
        return
    if st.session_state.get(KEY_HANDLED_JOB) != job.id:
        # The job just ended: make its model current if it finished an epoch, then rerun
        # the whole page so the buttons and the sidebar show it and the polling stops.
        st.session_state[KEY_HANDLED_JOB] = job.id
        if job.result and isinstance(job.result.result, TrainingResult):
            settle_current_model(job)
        st.rerun()
    result_view(job)


# --- Page ---------------------------------------------------------------------------------


def restore_preset_values() -> None:
    """Put a preset's settings back over the stale ones a browser sent before it showed them,
    or forget the preset's settings once it shows them.

    In the run whose preset box callback wrote them the widgets hold the preset's values
    whatever the browser shows, so that run only marks them as no longer fresh. A preset
    that changed a single setting is put back once only: that setting alone cannot tell a
    stale browser from a visitor who set it back on purpose, who then only has to do it
    again.
    """
    record = st.session_state.get(KEY_PRESET_WRITES)
    if record is None:
        return
    stale = unseen_preset_values()
    if stale is not None:
        st.session_state.update(stale)
        if len(record["changed"]) == 1:
            del st.session_state[KEY_PRESET_WRITES]
    elif record["fresh"]:
        st.session_state[KEY_PRESET_WRITES] = {**record, "fresh": False}
    else:
        del st.session_state[KEY_PRESET_WRITES]


def preset_ui() -> None:
    """The preset box, above the settings it fills in."""
    initialise_widgets()
    restore_preset_values()
    sync_preset_box()
    st.selectbox(
        "Preset",
        [*PRESETS, CUSTOM],
        key=KEY_PRESET,
        on_change=apply_preset,
        help=preset_help(),
    )


def config_ui(dataset) -> tuple[TrainingConfig | None, str | None]:
    """The configuration the settings make, its size, time and budget.

    Returns:
        The configuration (None when the settings make none) and why it cannot be trained
        (None when it can).
    """
    blocked = None
    config: TrainingConfig | None
    try:
        config = config_from(values_from_state())
    except ValueError as error:
        config, blocked = None, str(error)
    if config is not None:
        link_config, ignored = st.session_state.get(KEY_IGNORED) or (None, [])
        if ignored and link_config == config.to_json():
            st.warning(
                "Some settings in the link were not understood and were left at their defaults: "
                + plain(", ".join(ignored), 300)
            )
        # Mirror the configuration into the URL so the link reproduces it.
        st.session_state[KEY_SAVED_CONFIG] = config.to_json()
        st.query_params.from_dict(config.to_query_params())
        parameters = count_parameters(config, dataset.num_classes)
        st.markdown(f"**{config.summary(dataset.num_classes)}** · **{parameters:,} parameters**")
        class_note(parameters)
        st.caption(training_estimate_text(config, dataset))
        try:
            settings.limits().check(config)
        except ValueError as error:
            blocked = str(error)
    if blocked is not None:
        st.error(plain(blocked, 400))
    # The budget line, and an error per cap the training would break (shown by `show_budget`).
    if config is not None and not show_budget(config, dataset) and blocked is None:
        blocked = "over budget"
    return config, blocked


def latest_job_ui(blocked: str | None) -> None:
    """The newest training of this visitor, live while it runs; or how to start one."""
    job = latest_training_job()
    if job is None:
        if blocked is None:
            st.info("Press **Train** to start. The *Quick look* preset finishes in a few seconds.")
        return
    result = getattr(job, "result", None)  # None for another process's job.
    stored_name = result.name if job.done and result else None
    st.markdown(f"**Latest training:** {plain(stored_name or job.name)}")
    if job.done:
        poll_seconds = None
    else:
        poll_seconds = STOPPING_POLL_SECONDS if job.stop_requested else POLL_SECONDS
    st.fragment(run_every=poll_seconds)(job_view)(job.id)
    if not job.done and not ui.runs_elsewhere(job):
        st.fragment(run_every=CURVES_SECONDS)(live_curves_view)(job.id)


def settings_ui() -> None:
    """The settings, in three columns."""
    st.subheader("Settings")
    architecture_column, optimisation_column, data_column = st.columns(3)
    with architecture_column:
        st.markdown("**Architecture**")
        architecture_ui()
    with optimisation_column:
        st.markdown("**Optimisation**")
        optimisation_ui()
    with data_column:
        st.markdown("**Data**")
        data_ui()


def model_summary_ui(config: TrainingConfig, blocked: str | None, dataset, tensorflow_status):
    """The model's layer table (TensorFlow builds it), or only its size when it is refused."""
    if blocked is not None:
        # Building a network the limits refuse would cost the server its memory (a link can
        # ask for 8 layers of 2,048): count its parameters from the configuration instead.
        with st.expander("Model summary: layers and parameters"):
            st.caption(
                f"This network would have {count_parameters(config, dataset.num_classes):,} "
                "parameters. Its layer table is shown once the settings are within this app's "
                "limits."
            )
        return
    # The layer table needs TensorFlow: on a fresh server its import takes seconds.
    if "tensorflow" not in sys.modules:
        tensorflow_status.caption(
            ":material/hourglass_top: Loading TensorFlow: a few seconds on a fresh server…"
        )
    with st.spinner("Loading TensorFlow to build the model summary…"):
        table = summary_table(config.to_json(), dataset.num_classes)
    tensorflow_status.empty()
    with st.expander("Model summary: layers and parameters"):
        st.caption(
            "A dense layer has one weight per input per neuron plus one bias per neuron: the "
            "article's 784-128-10 network has 784×128+128 + 128×10+10 = 101,770."
        )
        st.dataframe(table, hide_index=True)


def ideas_ui() -> None:
    """The ideas behind the settings, one sentence each."""
    with st.expander("The ideas in one sentence each"):
        st.markdown(
            "- **Neuron**: adds up its inputs, each times a learned weight, plus a bias, and "
            "passes the sum through an *activation*.\n"
            "- **Layer**: neurons that all see the same inputs; a *hidden* layer sits between "
            "the 784 pixels and the 10 outputs.\n"
            "- **Activation**: the bend that lets layers learn more than straight lines "
            "(ReLU keeps positives and zeroes negatives).\n"
            "- **Softmax**: turns the 10 output scores into probabilities that add up to 1.\n"
            "- **Batch**: the images looked at before each small weight update.\n"
            "- **Epoch**: one pass over all training images.\n"
            "- **Why scale inputs**: pixels of 0-255 make early updates huge; dividing by 255 "
            "keeps numbers near 1 so training is steadier (the article used raw pixels)."
        )


st.title("Train a network")
st.caption(
    "Pick a preset, press **Train**, and watch it learn; the settings below it change how "
    "the network is built and trained. Training runs in the background: you can visit "
    "other pages and come back."
)
preset_ui()
dataset = ui.current_dataset()
config, blocked = config_ui(dataset)
buttons_ui(active_training_job(), blocked)
# Right under the buttons, where a visitor looks, while TensorFlow loads further down.
tensorflow_status = st.empty()
latest_job_ui(blocked)
settings_ui()
if config is not None:
    model_summary_ui(config, blocked, dataset, tensorflow_status)
ideas_ui()
