"""Compare runs: every stored run side by side, classical baselines, sweeps and export."""

import json

import pandas as pd
import streamlit as st

import ui
from core import settings
from core.data import SCALINGS
from core.data.held_out import mixed_test_sets_warning
from core.figures.compare import (
    CurveRun,
    overlaid_curves,
    sweep_parallel_coordinates,
    tradeoff_scatter,
)
from core.jobs.early_stopping_plan import early_stopping_plan
from core.jobs.job import JobKind, JobState
from core.jobs.outcome import job_outcome
from core.jobs.progress_text import progress_fraction
from core.jobs.sweep_plan import SweepValues, plan_sweep, sweep_seconds
from core.jobs.sweep_table import sweep_results
from core.jobs.sweeps import (
    EARLY_STOPPING_METRICS,
    stopped_early_reason,
    sweep_jobs,
)
from core.jobs.tasks import make_baseline_job
from core.nn import (
    MAX_HIDDEN_LAYERS,
    MAX_SEED,
    MAX_TRAIN_SIZE,
    MIN_TRAIN_SIZE,
    PRESETS,
    TrainingConfig,
    UploadError,
    config_from_json,
)
from core.nn.baselines import BASELINES
from core.nn.budget import check_baseline_budget
from core.nn.model_files import model_from_keras_file
from core.runs import RunStoreError
from core.runs.csv_export import csv_bytes
from core.runs.display import (
    NOT_TESTED,
    held_out_labels,
    history_table,
    short_name,
    with_display_columns,
)
from core.runs.filters import filter_runs
from core.runs.records import RunKind, RunStatus
from core.text import figure_text, format_duration, plain

KEY_CONFIRM_DELETE = "compare_confirm_delete"
KEY_SWEEP = "compare_sweep"
KEY_JOB_NOTICE = "compare_job_notice"
NO_VALUE = "—"
# How often the job lines redraw while one of their jobs is queued or running.
JOBS_REFRESH_SECONDS = 1.0
# Name and accuracy first and narrow, so a phone (390 px) shows a run's accuracy without
# scrolling sideways; what it was tested on next, since accuracies on different images differ.
TABLE_COLUMNS = {
    "number": st.column_config.NumberColumn("#", format="%d", width=40),
    "name": st.column_config.TextColumn("Name", width=170),
    "test_accuracy": st.column_config.ProgressColumn(
        "Test accuracy", format="%.1f%%", min_value=0.0, max_value=100.0, width=104
    ),
    "tested_on": st.column_config.TextColumn(
        "Tested on",
        width=240,
        help="The images its test accuracy was measured on: the test file, or the part of "
        "the training file that the article's split holds out (chosen by the seed).",
    ),
    "kind": st.column_config.TextColumn("Kind", width=72),
    "test_loss": st.column_config.TextColumn("Test loss", width=80),
    "status": st.column_config.TextColumn("Status", width=85),
    "epochs": st.column_config.TextColumn("Epochs", width=56),
    "train_seconds": st.column_config.NumberColumn("Training (s)", format="%.1f", width=84),
    "parameters": st.column_config.NumberColumn("Parameters", format="%d", width=84),
    "created": st.column_config.DatetimeColumn("When", format="MM-DD HH:mm", width=90),
    "summary": st.column_config.TextColumn("Configuration", width="medium"),
}
KEY_USE_NOTICE = "compare_use_notice"
KEY_IMPORTED_FILE = "compare_imported_file"


def run_labels(runs: pd.DataFrame) -> dict[str, str]:
    """Each run's label in the pickers: number, name, test accuracy and any unusual status.

    Built once per rerun for every run (a lookup per option made the pickers' cost grow with
    the square of the runs: minutes at 10,000, bench/README.md "Run store backends").
    """
    accuracy = runs["test_accuracy"].map(
        lambda value: NO_VALUE if pd.isna(value) else f"{value:.1%}"
    )
    status = runs["status"].map(lambda value: "" if value == RunStatus.FINISHED else f" · {value}")
    labels = runs["label"].astype(str) + " · " + accuracy + status
    return dict(zip(runs["id"], labels, strict=True))


def active_jobs_ui(kind: str, run_numbers: dict[str, int]) -> None:
    """Show this session's jobs of one kind with their progress and a Stop button."""
    jobs = [job for job in ui.job_manager().jobs(owner=ui.session_id()) if job.kind == kind]
    for job in jobs[:12]:
        progress = job.progress or {}
        fraction = progress_fraction(progress)
        columns = st.columns([3, 4, 1])
        columns[0].text(job.name)
        if job.state == JobState.QUEUED:
            columns[1].caption(f"waiting in the queue, position {job.queue_position}")
        elif job.state == JobState.RUNNING:
            columns[1].progress(fraction, text=progress.get("stage") or "training")
        else:
            columns[1].text(job_outcome(job, run_numbers, ui.run_store()))
        if not job.done and columns[2].button("Stop", key=f"compare_stop_{job.id}"):
            job.stop()


def jobs_fragment(kind: str, run_numbers: dict[str, int]) -> None:
    """This session's jobs of one kind, redrawn every second while one is queued or running
    (drawn once otherwise: a finished job's line does not change)."""
    active = any(
        not job.done for job in ui.job_manager().jobs(owner=ui.session_id()) if job.kind == kind
    )
    st.fragment(run_every=JOBS_REFRESH_SECONDS if active else None)(active_jobs_ui)(
        kind, run_numbers
    )


def submit_and_rerun(named_functions: list, kind: str) -> list[str]:
    """Submit jobs; rerun the page when any started, so `ui.watch_jobs` follows them.

    A refusal (e.g. the per-visitor cap) is shown after the rerun. Returns the job ids.
    """
    job_ids = []
    try:
        ui.run_store().check_room(ui.session_id(), ui.visitor_address())
        for name, job_function in named_functions:
            job_ids.append(ui.submit_job(name, job_function, kind=kind).id)
    except ValueError as error:
        st.session_state[f"{KEY_JOB_NOTICE}_{kind}"] = str(error)
    if kind == JobKind.SWEEP:
        st.session_state[KEY_SWEEP] = job_ids
    if job_ids:
        st.rerun()
    return job_ids


def job_notice_ui(kind: str) -> None:
    notice = st.session_state.pop(f"{KEY_JOB_NOTICE}_{kind}", None)
    if notice:
        st.error(plain(notice, 400))


def runs_table_ui(runs: pd.DataFrame) -> pd.DataFrame:
    """The filters and the table of runs; returns the runs the filters keep."""
    filter_columns = st.columns([2, 1, 1, 1])
    text = filter_columns[0].text_input(
        "Filter by name or configuration", key="compare_filter_text"
    )
    kinds = filter_columns[1].multiselect(
        "Kind", sorted(runs["kind"].unique()), key="compare_filter_kind"
    )
    statuses = filter_columns[2].multiselect(
        "Status", sorted(runs["status"].unique()), key="compare_filter_status"
    )
    tested_on_choice = filter_columns[3].multiselect(
        "Tested on", sorted(runs["tested_on"].unique()), key="compare_filter_tested_on"
    )
    shown = filter_runs(runs, text, kinds, statuses, tested_on_choice)
    # Only the columns shown go to the browser: the owner column is a visitor's cookie.
    table = shown.assign(
        test_accuracy=shown["test_accuracy"] * 100,
        epochs=[NO_VALUE if pd.isna(value) else str(value) for value in shown["epochs"]],
        test_loss=[NO_VALUE if pd.isna(value) else f"{value:.3f}" for value in shown["test_loss"]],
    )[list(TABLE_COLUMNS)]
    st.dataframe(table, column_config=TABLE_COLUMNS, hide_index=True, key="compare_table")
    caption_column, download_column = st.columns([3, 1], vertical_alignment="center")
    caption_column.caption(f"{len(shown)} of {len(runs)} runs. Click a column header to sort.")
    download_column.download_button(
        "Download the table (CSV)",
        csv_bytes(
            table.rename(columns={key: column["label"] for key, column in TABLE_COLUMNS.items()}),
            index=False,
        ),
        file_name="runs.csv",
        mime="text/csv",
        key="compare_download_table",
    )
    if warning := mixed_test_sets_warning(shown.loc[shown["tested_on"] != NOT_TESTED, "tested_on"]):
        st.warning(plain(warning, 600), icon=":material/balance:")
    return shown


def curves_ui(store, runs: pd.DataFrame, shown: pd.DataFrame) -> None:
    """The chosen runs' loss and accuracy curves, overlaid."""
    with_curves = shown.loc[shown["epochs"].fillna(0) > 0, "id"]
    selected = st.multiselect(
        "Runs to compare",
        list(shown["id"]),
        default=list(with_curves[:2]) if len(with_curves) >= 2 else None,
        format_func=run_labels(runs).__getitem__,
        key="compare_selected",
    )
    if not selected:
        return
    by_id = runs.set_index("id")
    histories = {}
    for run_id in selected:
        try:
            run = store.get_run(run_id)
        except RunStoreError as error:
            st.warning(plain(error, 300))
            continue
        if not history_table(run.history).empty:
            row = by_id.loc[run_id]
            number = None if pd.isna(row.number) else int(row.number)
            histories[run_id] = CurveRun(
                figure_text(short_name(number, run.name)), run.history, row.colour
            )
    if not histories:
        st.caption(
            "The selected runs have no training curves (baselines have none, and a run "
            "stopped before its first epoch ended has none)."
        )
        return
    curve_columns = st.columns(2)
    for column, metric in zip(curve_columns, ("loss", "accuracy"), strict=True):
        column.plotly_chart(overlaid_curves(histories, metric), key=f"compare_curves_{metric}")
    st.caption(
        "Solid lines: training set; dashed: validation set (runs trained without "
        "validation images have none). Each run keeps its colour on every chart."
    )


def tradeoff_ui(runs: pd.DataFrame) -> None:
    """Accuracy against training time and against parameters, one point per run."""
    scatter_columns = st.columns(2)
    scatter_runs = runs.assign(name=runs["name"].map(figure_text))
    for column, axis in zip(scatter_columns, ("train_seconds", "parameters"), strict=True):
        column.plotly_chart(tradeoff_scatter(scatter_runs, axis), key=f"compare_scatter_{axis}")
    st.caption(
        "Up is better, left is cheaper. The x axes are logarithmic: each step is ten "
        "times more time or parameters."
    )


def use_as_current_ui(run) -> None:
    """Make a stored network the visitor's current model (through the one cached loader)."""
    if not (run.kind == RunKind.NETWORK and run.has_model):
        st.caption("Only a network run with its model file can be the current model.")
        return
    if notice := st.session_state.pop(KEY_USE_NOTICE, None):
        st.success(notice)
    if st.button("Use as current model", key="compare_use_button"):
        try:
            model = ui.stored_model(run.id)
            config = TrainingConfig.from_dict(run.config)
        except (RunStoreError, ValueError) as error:
            st.error(plain(error, 300))
        else:
            ui.set_current_model(model, run.name, config=config, run_id=run.id)
            # Rerun, so the sidebar (drawn before this page) names the new model at once.
            st.session_state[KEY_USE_NOTICE] = f"{plain(run.name)} is now the current model."
            st.rerun()


def delete_ui(store, run) -> None:
    """Delete a run, after a second press to confirm."""
    if st.session_state.get(KEY_CONFIRM_DELETE) != run.id:
        if st.button("Delete…", key="compare_delete_button"):
            st.session_state[KEY_CONFIRM_DELETE] = run.id
            st.rerun()
        return
    st.warning(f"Delete **{plain(run.name)}** and its model file for good?")
    confirm_columns = st.columns(2)
    if confirm_columns[0].button("Yes, delete", key="compare_delete_confirm"):
        store.delete_run(run.id, missing_ok=True)
        st.session_state.pop(KEY_CONFIRM_DELETE, None)
        current = ui.current_model()
        if current and current.run_id == run.id:
            st.session_state.pop(ui.KEY_CURRENT_MODEL, None)
        st.rerun()
    if confirm_columns[1].button("Cancel", key="compare_delete_cancel"):
        st.session_state.pop(KEY_CONFIRM_DELETE, None)
        st.rerun()


def downloads_ui(run) -> None:
    """Download a run's model file, its history and its configuration."""
    download_columns = st.columns(3)
    if run.has_model:
        try:
            # On PostgreSQL a copy fetched from the database, checked against its digest.
            model_file = ui.run_store().model_file(run.id)
        except (OSError, ValueError) as error:
            download_columns[0].caption(f"The model file cannot be read: {plain(error, 300)}")
        else:
            extension = model_file.suffix
            download_columns[0].download_button(
                f"Model ({extension})",
                model_file.read_bytes(),
                file_name=f"{run.id}{extension}",
                key="compare_download_model",
            )
    history = history_table(run.history)
    if not history.empty:
        download_columns[1].download_button(
            "History (CSV)",
            csv_bytes(history),
            file_name=f"{run.id}-history.csv",
            mime="text/csv",
            key="compare_download_history",
        )
    download_columns[2].download_button(
        "Configuration (JSON)",
        json.dumps({"config": run.config, "name": run.name}, indent=2).encode(),
        file_name=f"{run.id}-config.json",
        mime="application/json",
        key="compare_download_config",
    )


def one_run_ui(store, runs: pd.DataFrame, shown: pd.DataFrame) -> None:
    """One run in focus: rename it, make it the current model, delete or download it."""
    st.subheader("One run")
    focused = st.selectbox(
        "Run", list(shown["id"]) or list(runs["id"]),
        format_func=run_labels(runs).__getitem__, key="compare_focus",
    )  # fmt: skip
    run = store.find_run(focused)
    if run is None:  # Pruned or deleted by another session since the list was read.
        st.toast("That run is gone: it was deleted since this page was drawn.", icon="🗑️")
        st.rerun()
    if reason := stopped_early_reason(store, run.id):
        st.caption(plain(reason, 300))
    action_columns = st.columns(3)
    with action_columns[0]:
        new_name = st.text_input("New name", value=run.name, key=f"compare_rename_{run.id}")
        if st.button("Rename", key="compare_rename_button") and new_name != run.name:
            try:
                store.rename_run(run.id, new_name)
                st.rerun()
            except RunStoreError as error:
                st.error(plain(error, 300))
    with action_columns[1]:
        use_as_current_ui(run)
    with action_columns[2]:
        delete_ui(store, run)
    downloads_ui(run)


def runs_ui(store, runs: pd.DataFrame) -> None:
    """The runs tab: the table, curves and trade-offs of the stored runs, and one run."""
    if runs.empty and store.unavailable():
        return  # The page's banner says why no run can be shown; "none yet" would be wrong.
    if runs.empty:
        st.info("No stored runs yet. Train a network or a baseline, and it shows up here.")
        st.page_link(ui.page_path("train"), label="Go to the Train page", icon=":material/school:")
        return
    shown = runs_table_ui(runs)
    curves_ui(store, runs, shown)
    tradeoff_ui(runs)
    one_run_ui(store, runs, shown)


def baselines_ui(store, limits, run_numbers: dict[str, int]) -> None:
    """The classical baselines tab: pick baselines and their data, train them as jobs."""
    st.caption(
        "Classical machine learning on the same images: each pixel is one input feature. "
        "A Random Forest votes over many decision trees; logistic regression is a network "
        "with no hidden layer; k-nearest neighbours copies the label of the most similar "
        "training images; naive Bayes models each pixel on its own."
    )
    chosen = st.multiselect(
        "Baselines", list(BASELINES), default=["Random Forest"], key="compare_baselines"
    )
    data_columns = st.columns(3)
    train_size = data_columns[0].number_input(
        "Training images",
        MIN_TRAIN_SIZE,
        limits.max_train_size or MAX_TRAIN_SIZE,
        min(10_000, limits.max_train_size or MAX_TRAIN_SIZE),
        step=1_000,
        key="compare_baseline_train_size",
    )
    scaling = data_columns[1].selectbox(
        "Input scaling", list(SCALINGS), key="compare_baseline_scaling",
        format_func=lambda key: SCALINGS[key].label,
    )  # fmt: skip
    seed = data_columns[2].number_input("Seed", 0, MAX_SEED, 0, key="compare_baseline_seed")
    for key in chosen:
        st.caption(f"**{key}**: {BASELINES[key].description}")
    if st.button("Train baselines", type="primary", key="compare_baseline_train") and chosen:
        config = TrainingConfig(
            scaling=scaling, train_size=int(train_size), seed=int(seed), validation_fraction=0.0
        )
        dataset = ui.current_dataset()
        try:
            check_baseline_budget(int(train_size))
        except ValueError as error:
            st.error(plain(error, 400))
        else:
            submit_and_rerun(
                [
                    (
                        key,
                        make_baseline_job(
                            key, config, dataset, store, ui.session_id(), ui.visitor_address()
                        ),
                    )
                    for key in chosen
                ],
                kind=JobKind.BASELINE,
            )
    job_notice_ui(JobKind.BASELINE)
    jobs_fragment(JobKind.BASELINE, run_numbers)


def sweep_early_stopping_ui(configs: list) -> bool:
    """Draw the sweep's "Stop hopeless members early (ASHA)" checkbox; True when it is on.

    It says after which epochs members are judged and on what figure; it is disabled, with
    the reason, when no member trains past the first rung (there would be nothing to stop).
    """
    plan = early_stopping_plan(configs)
    if plan is None:
        return False
    metric, rungs, possible = plan.metric, plan.rungs, plan.possible
    enabled = st.checkbox(
        "Stop hopeless members early (ASHA)",
        key="compare_sweep_early_stopping",
        disabled=not possible,
        help="Asynchronous successive halving, the rule of Ray Tune's ASHA scheduler: after "
        f"{plan.after} epoch(s) each member is compared with the members that got there before "
        f"it. Unless its {EARLY_STOPPING_METRICS[metric]} is among the best "
        f"1/{plan.reduction_factor:g} of theirs, it stops and keeps its partly trained model. "
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


def sweep_grid_ui() -> tuple[str, SweepValues]:
    """The sweep's preset and the values to combine; returns the preset's name and them."""
    st.caption(
        "A sweep trains every combination of the values you choose, one run each, so you "
        "see which settings matter. Runs wait in the training queue and are stored as usual."
    )
    base_name = st.selectbox("Start from preset", list(PRESETS), key="compare_sweep_base")
    sweep_columns = st.columns(4)
    neurons = sweep_columns[0].multiselect(
        "Neurons per layer", [16, 32, 64, 128, 256, 512, 1024], default=[64, 128],
        key="compare_sweep_neurons",
    )  # fmt: skip
    layers = sweep_columns[1].multiselect(
        "Hidden layers",
        list(range(MAX_HIDDEN_LAYERS + 1)),
        default=[1, 2],
        key="compare_sweep_layers",
    )
    epochs = sweep_columns[2].multiselect(
        "Epochs", [1, 2, 3, 5, 10, 20], default=[2], key="compare_sweep_epochs"
    )
    learning_rates = sweep_columns[3].multiselect(
        "Learning rate", [0.0001, 0.0003, 0.001, 0.003, 0.01, 0.1], default=[0.001],
        key="compare_sweep_learning_rates",
    )  # fmt: skip
    return base_name, (neurons, layers, epochs, learning_rates)


def sweep_start_ui(configs: list[TrainingConfig], seconds: float, max_size: int) -> bool | None:
    """The sweep's size and time, its early-stopping choice and its button.

    Returns:
        Whether to stop hopeless members early once "Run the sweep" is pressed, else None.
    """
    st.info(
        f"{len(configs)} runs, about {format_duration(seconds)} in all "
        f"(at most {max_size} runs per sweep)."
    )
    early_stopping = sweep_early_stopping_ui(configs)
    if st.button("Run the sweep", type="primary", key="compare_sweep_run"):
        return early_stopping
    return None


def sweep_results_ui(results: pd.DataFrame) -> None:
    """The sweep's results: parallel coordinates, the table, why members stopped, the best."""
    if len(results) > 1:
        st.plotly_chart(sweep_parallel_coordinates(results), key="compare_sweep_parcoords")
        st.caption(
            "One line per run, coloured by test accuracy; drag along an axis to keep "
            "only the lines that cross it there. Settings with one value get no axis; "
            "the table below has every run's figures."
        )
    early = results["stopped_early"].astype(bool).any()
    hidden = ["config"] if early else ["config", "stopped_early"]
    st.dataframe(
        results.drop(columns=hidden),
        hide_index=True,
        key="compare_sweep_table",
        column_config={
            "run": st.column_config.NumberColumn("#", format="%d"),
            "learning_rate": st.column_config.NumberColumn("Learning rate", format="%g"),
            "test_accuracy": st.column_config.NumberColumn("Test accuracy", format="percent"),
            "train_seconds": st.column_config.NumberColumn("Training (s)", format="%.1f"),
            "stopped_early": st.column_config.TextColumn("Stopped early", width="large"),
        },
    )
    for row in results[results["stopped_early"].astype(bool)].itertuples():
        number = "" if pd.isna(row.run) else f"#{row.run:.0f} "
        st.caption(plain(number + row.stopped_early, 300))
    best = results.iloc[0]["config"]
    if st.button(
        f"Open the best ({best.summary(ui.current_dataset().num_classes)}) in Train",
        key="compare_sweep_best",
    ):
        st.switch_page(ui.page_path("train"), query_params=best.to_query_params())


def sweep_ui(store, runs, limits, run_numbers: dict[str, int]) -> None:
    """The sweep tab: a grid of settings, its cost, the sweep's jobs and their results."""
    base_name, grid = sweep_grid_ui()
    sweep_dataset = ui.current_dataset()
    try:
        configs = plan_sweep(
            PRESETS[base_name], grid, limits,
            len(sweep_dataset.train_images), sweep_dataset.num_classes,
        )  # fmt: skip
    except ValueError as error:
        st.error(plain(error, 400))
        configs = []
    if configs:
        seconds = sweep_seconds(configs, runs, store, len(sweep_dataset.train_images))
        early_stopping = sweep_start_ui(configs, seconds, limits.max_sweep_size)
        if early_stopping is not None:
            dataset = ui.current_dataset()
            jobs = sweep_jobs(
                configs, dataset, store, ui.session_id(), early_stopping,
                address=ui.visitor_address(),
            )  # fmt: skip
            submit_and_rerun(jobs, kind=JobKind.SWEEP)
    job_notice_ui(JobKind.SWEEP)

    job_ids = st.session_state.get(KEY_SWEEP, [])
    if job_ids:
        jobs_fragment(JobKind.SWEEP, run_numbers)
        results = sweep_results(
            [ui.job_manager().get(job_id) for job_id in job_ids],
            run_numbers,
            lambda run_id: stopped_early_reason(store, run_id),
        )
        if len(results):
            sweep_results_ui(results)


def import_export_ui() -> None:
    """The import tab: a configuration into Train, or a Keras model as the current model."""
    st.caption(
        "Load a configuration exported from here (or written by hand) into the Train page, "
        "or bring in a Keras model trained elsewhere. Models are loaded in Keras's safe mode, "
        "which refuses files that would run arbitrary code."
    )
    config_file = st.file_uploader(
        "Configuration (JSON)", type=["json"], key="compare_import_config"
    )
    if config_file is not None:
        try:
            imported = config_from_json(config_file.getvalue(), config_file.name)
        except UploadError as error:
            st.error(plain(error, 400))
        else:
            st.success(f"Read {imported.summary(ui.current_dataset().num_classes)}.")
            if st.button("Open in the Train page", key="compare_import_open"):
                st.switch_page(ui.page_path("train"), query_params=imported.to_query_params())
    model_file = st.file_uploader(
        "Keras model (.keras)", type=["keras"], key="compare_import_model"
    )
    if model_file is None:
        return
    if st.session_state.get(KEY_IMPORTED_FILE) == model_file.file_id:
        # Imported on an earlier run: importing it again would undo a later choice.
        st.success(f"{plain(model_file.name)} was made the current model for Evaluate and Draw.")
        return
    try:
        model = model_from_keras_file(model_file.getvalue(), model_file.name)
    except UploadError as error:
        st.error(plain(error, 400))
        return
    ui.set_current_model(model, f"Imported: {model_file.name}")
    st.session_state[KEY_IMPORTED_FILE] = model_file.file_id
    # Rerun, so the sidebar (drawn before this page) names the imported model at once.
    st.rerun()


st.title("Compare runs")
st.caption(
    "Every finished or stopped training is kept as a run. Put runs side by side to answer "
    "the article's exercises: do more neurons help? Do more layers make training slower? "
    "How does a Random Forest do?"
)

try:
    store = ui.run_store()
except RunStoreError as error:
    st.error(plain(error, 300))
    st.stop()
limits = settings.limits()
run_numbers = ui.run_numbers()
runs = with_display_columns(ui.visible_runs(), run_numbers)
session_dataset = ui.current_dataset()
runs["tested_on"] = held_out_labels(
    runs,
    {session_dataset.name: (len(session_dataset.train_images), len(session_dataset.test_images))},
)
for problem in store.problems():
    if problem != store.unavailable():  # That one is said at the top of every page.
        st.warning(plain(problem, 400))


tab_runs, tab_baselines, tab_sweep, tab_files = st.tabs(
    ["Runs", "Classical baselines", "Sweep", "Import and export"]
)
with tab_runs:
    runs_ui(store, runs)
with tab_baselines:
    baselines_ui(store, limits, run_numbers)
with tab_sweep:
    sweep_ui(store, runs, limits, run_numbers)
with tab_files:
    import_export_ui()
