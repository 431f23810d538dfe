"""The Compare page: the runs table, overlaid curves, delete with confirmation, sweep limits."""

import pytest

from core.jobs.tasks import save_training_result
from core.nn.config import TrainingConfig
from core.nn.training import train_model
from core.runs import RunStore
from core.text import plain
from testkit.harness import app_test


@pytest.fixture(scope="module")
def trained_results(mnist):
    """Two tiny trained networks, trained once for the module."""
    return [
        train_model(TrainingConfig(hidden_layers=(units,), epochs=2, train_size=600), mnist)
        for units in (16, 48)
    ]


@pytest.fixture
def store_with_runs(isolated_run_store, trained_results, mnist):
    store = RunStore(isolated_run_store)
    ids = [save_training_result(store, result, mnist, name=f"net {index}")
           for index, result in enumerate(trained_results)]  # fmt: skip
    return store, ids


def test_table_lists_every_run_and_two_selected_show_overlaid_curves(store_with_runs):
    store, ids = store_with_runs
    app = app_test("app_pages/compare.py")
    app.run()
    assert not app.exception
    table = app.dataframe[0].value
    assert set(table["name"]) == {"net 0", "net 1"}
    assert set(app.multiselect(key="compare_selected").value) == set(ids)
    curves = app.get("plotly_chart")
    loss_figure = next(chart for chart in curves if "Loss" in chart.proto.spec)
    # Two runs, each with a training and a validation curve.
    assert loss_figure.proto.spec.count('"mode":"lines+markers"') == 4

    app.multiselect(key="compare_selected").set_value([ids[0]]).run()
    loss_figure = next(chart for chart in app.get("plotly_chart") if "Loss" in chart.proto.spec)
    assert loss_figure.proto.spec.count('"mode":"lines+markers"') == 2


def test_delete_asks_first_then_removes_the_run_and_its_file(store_with_runs):
    store, ids = store_with_runs
    app = app_test("app_pages/compare.py")
    app.run()
    focused = app.selectbox(key="compare_focus").value
    model_path = store.get_run(focused).model_path
    app.button(key="compare_delete_button").click().run()
    assert any("for good?" in warning.value for warning in app.warning)
    assert len(store.list_runs()) == 2
    app.button(key="compare_delete_cancel").click().run()
    assert len(store.list_runs()) == 2

    app.button(key="compare_delete_button").click().run()
    app.button(key="compare_delete_confirm").click().run()
    assert not app.exception
    remaining = store.list_runs()
    assert list(remaining["id"]) == [run_id for run_id in ids if run_id != focused]
    assert not model_path.exists()


def test_rename_and_use_as_current_model(store_with_runs):
    store, ids = store_with_runs
    app = app_test("app_pages/compare.py")
    app.run()
    focused = app.selectbox(key="compare_focus").value
    app.text_input(key=f"compare_rename_{focused}").set_value("my best run")
    app.button(key="compare_rename_button").click().run()
    assert store.get_run(focused).name == "my best run"
    app.button(key="compare_use_button").click().run()
    current = app.session_state["current_model"]
    assert current.run_id == focused and current.label == "my best run"


def test_sweep_form_refuses_an_oversized_grid(store_with_runs):
    app = app_test("app_pages/compare.py")
    app.run()
    app.multiselect(key="compare_sweep_neurons").set_value([16, 32, 64, 128, 256, 512]).run()
    app.multiselect(key="compare_sweep_layers").set_value([1, 2, 3]).run()
    app.multiselect(key="compare_sweep_epochs").set_value([1, 2]).run()
    assert any("36 configurations; the limit is 24" in error.value for error in app.error)
    assert not [button for button in app.button if button.key == "compare_sweep_run"]

    app.multiselect(key="compare_sweep_layers").set_value([1]).run()
    assert not app.error
    assert any("12 runs, about" in info.value for info in app.info)


def test_empty_store_shows_a_hint():
    app = app_test("app_pages/compare.py")
    app.run()
    assert not app.exception
    assert any("No stored runs yet" in info.value for info in app.info)


def test_a_finished_baseline_shows_its_accuracy_and_joins_the_table():
    """Before, a finished baseline's line said only "finished" (no accuracy)."""
    import re

    import ui

    app = app_test("app_pages/compare.py")
    app.run()
    app.number_input(key="compare_baseline_train_size").set_value(300)
    app.multiselect(key="compare_baselines").set_value(["Gaussian naive Bayes"])
    app.button(key="compare_baseline_train").click().run()
    assert not app.exception and not app.error
    owner = app.session_state[ui.KEY_SESSION_ID]
    manager = ui.job_manager()
    for job in manager.jobs(owner=owner):
        manager.wait(job.id, timeout=120)
    app.run()
    assert not app.exception
    outcomes = [text.value for text in app.text if "test accuracy" in text.value]
    assert len(outcomes) == 1
    assert re.fullmatch(r"finished: \d+\.\d% test accuracy \(run #\d+\)", outcomes[0])
    assert app.dataframe[0].value["kind"].tolist() == ["baseline"]


def test_early_stopping_is_offered_once_members_train_past_the_first_epoch(store_with_runs):
    app = app_test("app_pages/compare.py")
    app.run()
    app.multiselect(key="compare_sweep_epochs").set_value([1]).run()
    assert app.checkbox(key="compare_sweep_early_stopping").disabled
    assert any("choose more epochs" in caption.value for caption in app.caption)
    app.multiselect(key="compare_sweep_epochs").set_value([1, 5]).run()
    checkbox = app.checkbox(key="compare_sweep_early_stopping")
    assert not checkbox.disabled and "after 1 and 3 epoch(s)" in checkbox.help
    # The default preset keeps no validation images: members are compared on training figures.
    checkbox.check().run()
    assert any("training accuracy" in caption.value for caption in app.caption)
    assert not app.exception and not app.error


def test_the_sweep_table_says_which_member_stopped_early_and_why(store_with_runs, mnist):
    import ui
    from core.jobs.sweeps import SuccessiveHalving
    from core.jobs.tasks import make_training_job

    store, _ = store_with_runs
    app = app_test("app_pages/compare.py")
    app.run()
    rule = SuccessiveHalving(max_epochs=3)
    rule.report("a better member", epoch=1, value=1.0)
    config = TrainingConfig(hidden_layers=(16,), epochs=3, train_size=300)
    job_function = make_training_job(config, mnist, store, early_stop=rule.watcher("it", 3))
    owner = app.session_state[ui.KEY_SESSION_ID]
    job = ui.job_manager().submit("Sweep: it", job_function, owner=owner, kind="sweep")
    ui.job_manager().wait(job.id, timeout=300)
    app.session_state["compare_sweep"] = [job.id]
    app.run()
    assert not app.exception and not app.error
    table = next(frame.value for frame in app.dataframe if "stopped_early" in frame.value)
    (reason,) = table["stopped_early"]
    assert reason.startswith("Stopped early after 1 epoch: validation accuracy ")
    assert reason.endswith("was below the best 1/3 at that point (100.0%).")
    number = store.run_numbers()[job.result.run_id]
    assert plain(f"#{number} {reason}", 300) in [caption.value for caption in app.caption]


@pytest.fixture
def store_with_mixed_runs(store_with_runs, trained_results, mnist):
    """The two runs of `store_with_runs` (official split) and one of the article's split."""
    import dataclasses

    store, ids = store_with_runs
    article = dataclasses.replace(
        trained_results[0], config=TrainingConfig(hidden_layers=(16,), split="article", seed=3)
    )
    ids.append(save_training_result(store, article, mnist, name="article net", owner="a" * 43))
    return store, ids


def test_the_table_says_what_each_run_was_tested_on_and_warns_when_they_differ(
    store_with_mixed_runs,
):
    """Before, official and article runs sat side by side with nothing to tell them apart."""
    app = app_test("app_pages/compare.py")
    app.run()
    assert not app.exception
    table = app.dataframe[0].value
    tested_on = dict(zip(table["name"], table["tested_on"], strict=True))
    assert tested_on == {
        "net 0": "test file (10,000)",
        "net 1": "test file (10,000)",
        "article net": "15,000 held out of training, seed 3",
    }
    warnings = [warning.value for warning in app.warning if "Not like for like" in warning.value]
    assert len(warnings) == 1
    assert "2 runs: test file (10,000); 1 run: 15,000 held out of training, seed 3" in warnings[0]
    # Keeping only the runs tested on the same images removes the warning.
    app.multiselect(key="compare_filter_tested_on").set_value(["test file (10,000)"]).run()
    assert set(app.dataframe[0].value["name"]) == {"net 0", "net 1"}
    assert not [warning for warning in app.warning if "Not like for like" in warning.value]


def test_the_table_sends_only_the_columns_it_shows(store_with_mixed_runs):
    """Before, the whole run list went to the browser, the owner (a visitor's cookie) too."""
    app = app_test("app_pages/compare.py")
    app.run()
    frame = app.dataframe[0]
    assert list(frame.value.columns) == [
        "number", "name", "test_accuracy", "tested_on", "kind", "test_loss", "status",
        "epochs", "train_seconds", "parameters", "created", "summary",
    ]  # fmt: skip
    assert b"a" * 43 not in frame.proto.SerializeToString()
    assert "article net" in frame.value["name"].tolist()


def test_a_use_as_current_model_is_named_in_the_sidebar_at_once(store_with_runs):
    store, ids = store_with_runs
    app = app_test("app_pages/compare.py")
    app.run()
    focused = app.selectbox(key="compare_focus").value
    name = store.get_run(focused).name
    app.button(key="compare_use_button").click().run()
    assert not app.exception
    assert name in " ".join(str(element.value) for element in app.sidebar.markdown)
    assert f"{name} is now the current model." in [success.value for success in app.success]


def test_an_imported_model_is_named_in_the_sidebar_at_once_and_imported_once(
    store_with_runs, tmp_path
):
    """Before, the sidebar named the old model until the next page change, and every rerun
    with the file still in the uploader imported it again over a later choice."""
    from core.nn.model import build_model

    path = tmp_path / "mine.keras"
    build_model(TrainingConfig(hidden_layers=(8,))).save(path)
    app = app_test("app_pages/compare.py")
    app.run()
    uploader = next(e for e in app.get("file_uploader") if e.key == "compare_import_model")
    uploader.upload("mine.keras", path.read_bytes()).run()
    assert not app.exception and not app.error
    assert "Imported: mine.keras" in " ".join(str(e.value) for e in app.sidebar.markdown)
    assert app.session_state["current_model"].label == "Imported: mine.keras"
    # A stored run made current later stays current on the next runs.
    app.button(key="compare_use_button").click().run()
    app.run()
    current = app.session_state["current_model"]
    assert current.run_id == app.selectbox(key="compare_focus").value
    assert "Imported" not in " ".join(str(e.value) for e in app.sidebar.markdown)


# A 390 px phone leaves this much width for the table (16 px of padding on each side, and
# the table's borders).
PHONE_TABLE_WIDTH = 390 - 2 * 16 - 2


def test_a_phone_shows_each_runs_accuracy_without_scrolling_sideways(store_with_runs):
    """Before, #, Name and Kind filled a phone's width and the accuracy was off screen."""
    import json

    app = app_test("app_pages/compare.py")
    app.run()
    frame = app.dataframe[0]
    order = list(frame.proto.column_order) or list(frame.value.columns)
    widths = {name: column.get("width") for name, column in json.loads(frame.proto.columns).items()}
    before = order[: order.index("test_accuracy") + 1]
    assert all(isinstance(widths[name], int) for name in before), widths
    assert sum(widths[name] for name in before) <= PHONE_TABLE_WIDTH


def test_a_three_class_dataset_is_described_with_three_outputs(store_with_runs, mnist):
    """The sweep's best and an imported configuration are described for the session's data."""
    import dataclasses
    import json

    import numpy as np

    import ui
    from core.jobs.tasks import make_training_job

    store, _ = store_with_runs
    train, test = (
        np.flatnonzero(mnist.train_labels < 3)[:600],
        np.flatnonzero(mnist.test_labels < 3),
    )
    three_classes = dataclasses.replace(
        mnist,
        name="three digits",
        train_images=mnist.train_images[train],
        train_labels=mnist.train_labels[train],
        test_images=mnist.test_images[test[:200]],
        test_labels=mnist.test_labels[test[:200]],
        class_names=("0", "1", "2"),
    )
    app = app_test("app_pages/compare.py")
    app.session_state[ui.KEY_DATASET] = three_classes
    app.run()
    config = TrainingConfig(hidden_layers=(8,), epochs=1, train_size=300)
    job_function = make_training_job(config, three_classes, store)
    owner = app.session_state[ui.KEY_SESSION_ID]
    job = ui.job_manager().submit("Sweep: it", job_function, owner=owner, kind="sweep")
    ui.job_manager().wait(job.id, timeout=300)
    app.session_state["compare_sweep"] = [job.id]
    app.run()
    assert not app.exception and not app.error
    assert app.button(key="compare_sweep_best").label.startswith("Open the best (784-8-3 relu")
    uploader = next(e for e in app.get("file_uploader") if e.key == "compare_import_config")
    imported = TrainingConfig(hidden_layers=(64,), epochs=3)
    uploader.upload("three.json", json.dumps({"config": imported.to_dict()}).encode()).run()
    assert any(success.value.startswith("Read 784-64-3 relu") for success in app.success)
