"""Every page with every kind of run the app makes, focused on Compare or current elsewhere.

One real run store (SQLite in a temporary folder) holds a run of each kind: a network with
validation images and one without (the article's preset, and so every default sweep), one
stopped before its first epoch ended, one stopped mid-way, one interrupted by a restart,
each classical baseline, a sweep member, one that early stopping ended after its first epoch,
and an imported model as the current model. Each page must render with each of them without
an exception or an error box.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import threading

import pytest

import ui
from core.jobs.sweeps import SuccessiveHalving, stopped_early_reason
from core.jobs.tasks import make_training_job, save_baseline_result, save_training_result
from core.nn import PRESETS, TrainingConfig
from core.nn.baselines import BASELINES, train_baseline
from core.nn.training import train_model
from core.runs import RunStore
from testkit.harness import PROJECT_ROOT, app_test

TRAIN_SIZE = 300
SMALL = {"hidden_layers": (16,), "epochs": 1, "train_size": TRAIN_SIZE}


def _quiet_report(**progress) -> None:
    """A job's progress report that nobody reads."""


def _stop_after_first_epoch(stop_event: threading.Event):
    def on_progress(event: dict) -> None:
        if event["kind"] == "epoch":
            stop_event.set()

    return on_progress


def _interrupt_a_run_in_another_process(folder) -> None:
    """Start a run in a separate process that ends without saving it, as a crash would."""
    script = (
        "import sys; from core.runs import RunStore; "
        "RunStore(sys.argv[1]).begin_run('network', 'interrupted run', "
        "{'hidden_layers': [16], 'epochs': 3}, None, 'MNIST')"
    )
    subprocess.run([sys.executable, "-c", script, str(folder)], cwd=PROJECT_ROOT, check=True)


@pytest.fixture(scope="module")
def matrix_store(tmp_path_factory, mnist):
    """The run store with one run of every kind; returns (folder, run id by kind)."""
    folder = tmp_path_factory.mktemp("matrix-runs")
    store = RunStore(folder)
    ids: dict[str, str] = {}

    with_validation = TrainingConfig(**SMALL, validation_fraction=0.2)
    ids["network with validation"] = save_training_result(
        store, train_model(with_validation, mnist), mnist
    )
    article = dataclasses.replace(PRESETS["As in the article"], **SMALL)
    assert article.validation_fraction == 0
    ids["network without validation"] = save_training_result(
        store, train_model(article, mnist), mnist
    )
    stopped_before = threading.Event()
    stopped_before.set()
    ids["stopped at 0 epochs"] = save_training_result(
        store, train_model(with_validation, mnist, stop_event=stopped_before), mnist
    )
    stop_mid_way = threading.Event()
    three_epochs = dataclasses.replace(with_validation, epochs=3, batch_size=32)
    ids["stopped mid-way"] = save_training_result(
        store,
        train_model(
            three_epochs,
            mnist,
            on_progress=_stop_after_first_epoch(stop_mid_way),
            stop_event=stop_mid_way,
        ),
        mnist,
    )
    for key in BASELINES:
        result = train_baseline(key, mnist, train_size=TRAIN_SIZE)
        ids[f"baseline {key}"] = save_baseline_result(store, result)
    # A default sweep starts from the article's preset; this member differs from the run
    # without validation only in its seed (which its name says).
    sweep_job = make_training_job(dataclasses.replace(article, seed=1), mnist, store)
    ids["sweep member"] = sweep_job(_quiet_report, threading.Event()).run_id
    # Early stopping judged it after its first epoch against a better member before it.
    rule = SuccessiveHalving(max_epochs=2)
    rule.report("a better member", epoch=1, value=1.0)
    two_epochs = dataclasses.replace(with_validation, epochs=2)
    early_job = make_training_job(two_epochs, mnist, store, early_stop=rule.watcher("it", 2))
    ids["stopped-early sweep member"] = early_job(_quiet_report, threading.Event()).run_id

    _interrupt_a_run_in_another_process(folder)
    recovered = RunStore(folder).list_runs()
    interrupted = recovered[recovered["status"] == "interrupted"]
    assert len(interrupted) == 1
    ids["interrupted by a restart"] = interrupted["id"].iloc[0]
    return folder, ids


@pytest.fixture(autouse=True)
def isolated_run_store(matrix_store, monkeypatch):
    """Every test here reads the module's run store (overrides the conftest fixture)."""
    folder, _ = matrix_store
    monkeypatch.setenv("MNIST_STUDIO_RUNS_DIR", str(folder))
    return folder


def test_the_store_holds_every_kind_of_run(matrix_store):
    folder, ids = matrix_store
    runs = RunStore(folder).list_runs().set_index("id")
    assert len(runs) == len(ids)
    assert runs.loc[ids["stopped at 0 epochs"], "status"] == "stopped"
    assert runs.loc[ids["stopped at 0 epochs"], "epochs"] == 0
    assert runs.loc[ids["stopped mid-way"], "status"] == "stopped"
    assert runs.loc[ids["stopped mid-way"], "epochs"] in (1, 2)
    assert runs.loc[ids["interrupted by a restart"], "status"] == "interrupted"
    early = ids["stopped-early sweep member"]
    assert runs.loc[early, ["status", "epochs"]].tolist() == ["stopped", 1]
    assert stopped_early_reason(RunStore(folder), early).startswith("Stopped early after 1 epoch")
    assert set(runs.loc[[ids[f"baseline {key}"] for key in BASELINES], "kind"]) == {"baseline"}
    history = RunStore(folder).get_run(ids["network without validation"]).history
    assert len(history["loss"]) == 1 and history["val_loss"] == []


def _no_errors(app, where: str) -> None:
    assert not app.exception, (where, [exception.message for exception in app.exception])
    assert not app.error, (where, [error.value for error in app.error])


RUN_KINDS = [
    "network with validation",
    "network without validation",
    "stopped at 0 epochs",
    "stopped mid-way",
    "interrupted by a restart",
    *(f"baseline {key}" for key in BASELINES),
    "sweep member",
    "stopped-early sweep member",
]


@pytest.mark.parametrize("kind", RUN_KINDS)
def test_compare_renders_with_each_run_focused(matrix_store, kind):
    _, ids = matrix_store
    app = app_test("app_pages/compare.py")
    app.session_state["compare_focus"] = ids[kind]
    app.run()
    _no_errors(app, kind)
    assert app.selectbox(key="compare_focus").value == ids[kind]
    history_downloads = [
        button for button in app.get("download_button") if "History" in button.proto.label
    ]
    trained_epochs = kind in {
        "network with validation", "network without validation", "stopped mid-way",
        "sweep member", "stopped-early sweep member",
    }  # fmt: skip
    assert len(history_downloads) == (1 if trained_epochs else 0)
    reasons = [caption.value for caption in app.caption if caption.value.startswith("Stopped ")]
    assert len(reasons) == (kind == "stopped-early sweep member")


def _current_models(folder, ids, imported):
    """Label -> CurrentModel: each stored network with a model, and an imported model."""
    store = RunStore(folder)
    models = {}
    for kind in ("network with validation", "network without validation",
                 "stopped at 0 epochs", "stopped mid-way", "sweep member"):  # fmt: skip
        run = store.get_run(ids[kind])
        models[kind] = ui.CurrentModel(
            model=store.load_model(run.id),
            label=run.name,
            config=TrainingConfig.from_dict(run.config),
            run_id=run.id,
        )
    models["imported model"] = ui.CurrentModel(model=imported, label="Imported: model.keras")
    return models


@pytest.fixture(scope="module")
def current_models(matrix_store):
    from core.nn.model_files import model_from_keras_file

    folder, ids = matrix_store
    model_path = RunStore(folder).get_run(ids["network with validation"]).model_path
    imported = model_from_keras_file(model_path.read_bytes(), "model.keras")
    return _current_models(folder, ids, imported)


CURRENT_KINDS = [
    "network with validation",
    "network without validation",
    "stopped at 0 epochs",
    "stopped mid-way",
    "sweep member",
    "imported model",
]


@pytest.mark.parametrize("page", ui.PAGES, ids=lambda page: page.path)
@pytest.mark.parametrize("kind", CURRENT_KINDS)
def test_every_page_renders_with_each_current_model(current_models, page, kind):
    app = app_test(page.path)
    app.session_state[ui.KEY_CURRENT_MODEL] = current_models[kind]
    app.run()
    _no_errors(app, f"{page.path} with {kind}")
    assert app.title and app.title[0].value


def test_runs_with_the_same_name_get_their_own_curves_numbers_and_colours(matrix_store):
    folder, ids = matrix_store
    first, second = ids["network without validation"], ids["sweep member"]
    store = RunStore(folder)
    # Names now say the seed, but a learner may still give two runs one name.
    assert store.get_run(first).name != store.get_run(second).name
    store.rename_run(second, store.get_run(first).name)
    app = app_test("app_pages/compare.py")
    app.session_state["compare_selected"] = [first, second]
    app.run()
    _no_errors(app, "two runs with one name")
    numbers = store.run_numbers()
    figure = next(
        json.loads(chart.proto.spec)
        for chart in app.get("plotly_chart")
        if "compare_curves_loss" in chart.proto.id
    )
    lines = [trace for trace in figure["data"] if trace.get("mode") == "lines+markers"]
    assert {trace["legendgroup"] for trace in lines} == {first, second}
    names = {trace["name"] for trace in lines}
    assert any(name.startswith(f"#{numbers[first]} · ") for name in names)
    assert any(name.startswith(f"#{numbers[second]} · ") for name in names)
    assert len({trace["line"]["color"] for trace in lines}) == 2
    assert figure["layout"]["showlegend"] is True
    labels = app.multiselect(key="compare_selected").options
    assert len(set(labels)) == len(labels) == len(ids)
