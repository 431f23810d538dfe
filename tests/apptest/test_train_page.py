"""The Train page: controls, presets, the URL round trip and a tiny real training."""

import json

import pytest

import ui
from core.nn import PRESETS, TrainingConfig
from testkit.harness import app_test
from testkit.jobs import wait_until

PAGE = "app_pages/train.py"


def train_page(**params):
    app = app_test(PAGE)
    for name, value in params.items():
        app.query_params[name] = value
    return app.run()


def test_first_visit_shows_the_recommended_preset_and_writes_it_to_the_url():
    app = train_page()
    assert not app.exception
    assert app.selectbox(key="train_preset").value == "Recommended"
    config, ignored = TrainingConfig.from_query_params(dict(app.query_params))
    assert config == PRESETS["Recommended"]
    assert ignored == []
    assert not app.warning


def test_article_preset_shows_101_770_parameters():
    app = train_page()
    app.selectbox(key="train_preset").set_value("As in the article").run()
    assert not app.exception
    assert app.text_input(key="train_hidden_layers").value == "128"
    assert app.number_input(key="train_epochs").value == 20
    assert app.radio(key="train_scaling").value == "raw"
    assert any("101,770 parameters" in element.value for element in app.markdown)
    table = app.dataframe[0].value
    assert table["parameters"].sum() == 101_770
    assert table["parameters"].tolist()[-2:] == [100_480, 1_290]


def test_url_query_round_trip():
    config = TrainingConfig(
        hidden_layers=(64, 32), activation="tanh", dropout=0.2, epochs=3, train_size=5_000, seed=9
    )
    app = train_page(**config.to_query_params())
    assert not app.exception
    assert not app.warning
    assert app.text_input(key="train_hidden_layers").value == "64,32"
    assert app.selectbox(key="train_activation").value == "tanh"
    assert app.checkbox(key="train_use_subset").value is True
    assert app.number_input(key="train_train_size").value == 5_000
    assert app.selectbox(key="train_preset").value == "Custom"
    rebuilt, ignored = TrainingConfig.from_query_params(dict(app.query_params))
    assert (rebuilt, ignored) == (config, [])


def test_adam_betas_come_with_the_preset_go_into_the_link_and_only_apply_to_adam():
    app = train_page()
    app.selectbox(key="train_preset").set_value("Convolutional").run()
    assert not app.exception
    assert app.number_input(key="train_adam_beta_1").value == 0.7
    assert app.number_input(key="train_adam_beta_2").value == 0.9
    assert not app.number_input(key="train_adam_beta_1").disabled
    # The page's one-line summary of the network names them.
    assert any("betas 0.7/0.9" in element.value for element in app.markdown)
    app.number_input(key="train_adam_beta_1").set_value(0.8).run()
    assert app.selectbox(key="train_preset").value == "Custom"
    config, ignored = TrainingConfig.from_query_params(dict(app.query_params))
    assert (config.adam_beta_1, config.adam_beta_2, ignored) == (0.8, 0.9, [])
    app.selectbox(key="train_optimizer").set_value("sgd").run()
    assert app.number_input(key="train_adam_beta_1").disabled
    assert app.number_input(key="train_adam_beta_2").disabled


def test_junk_in_the_link_falls_back_and_is_named():
    app = train_page(epochs="many", dropout="3", hidden_layers="32", colour="blue")
    assert not app.exception
    warning = app.warning[0].value
    assert "epochs=many" in warning and "dropout=3" in warning and "colour=blue" in warning
    assert app.text_input(key="train_hidden_layers").value == "32"
    assert app.number_input(key="train_epochs").value == PRESETS["Recommended"].epochs
    # Once the person changes a setting the warning goes away.
    app.number_input(key="train_epochs").set_value(2).run()
    assert not app.warning
    assert app.query_params["epochs"] == ["2"] or app.query_params["epochs"] == "2"


def test_bad_layer_text_is_an_error_not_a_traceback():
    app = train_page()
    app.text_input(key="train_hidden_layers").set_value("128,lots").run()
    assert not app.exception
    assert "whole numbers separated by commas" in app.error[0].value
    app.text_input(key="train_hidden_layers").set_value("4096").run()
    assert "2,048 neurons" in app.error[0].value


def test_changing_controls_and_training_saves_the_run(isolated_run_store):
    app = train_page()
    app.selectbox(key="train_preset").set_value("Quick look").run()
    app.text_input(key="train_hidden_layers").set_value("32").run()
    app.number_input(key="train_epochs").set_value(1).run()
    app.number_input(key="train_train_size").set_value(1_000).run()
    app.number_input(key="train_batch_size").set_value(16).run()
    assert app.selectbox(key="train_preset").value == "Custom"
    app.button(key="train_start").click().run()
    assert not app.exception

    session_jobs = ui.job_manager().jobs(owner=app.session_state[ui.KEY_SESSION_ID])
    assert len(session_jobs) == 1
    job = session_jobs[0]
    assert job.name == "784-32-10 relu, adam 0.001, 1 ep, 1,000 images · seed 0"
    ui.job_manager().wait(job.id, timeout=300)
    assert job.state == "finished", job.error

    app.run()
    assert not app.exception
    metrics = {metric.label: metric.value for metric in app.metric}
    accuracy = float(metrics["Test accuracy"].rstrip("%")) / 100
    assert accuracy == pytest.approx(job.result.result.test_accuracy, abs=5e-5)
    assert accuracy > 0.5
    assert app.success[0].value == "Training finished."
    # The model is the session's current model, and the run is in the store.
    current = app.session_state[ui.KEY_CURRENT_MODEL]
    assert current.run_id == job.result.run_id
    from core.runs import RunStore

    runs = RunStore(isolated_run_store).list_runs()
    assert runs["id"].tolist() == [job.result.run_id]
    assert runs["test_accuracy"].iloc[0] == pytest.approx(accuracy, abs=5e-5)
    assert runs["parameters"].iloc[0] == 784 * 32 + 32 + 32 * 10 + 10
    assert runs["status"].iloc[0] == "finished"

    # The loss chart on a log scale, labelled in full; accuracy stays in percent.
    app.toggle(key="train_loss_log_scale").set_value(True).run()
    assert not app.exception
    figures = [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]
    charts = {figure["layout"]["title"]["text"]: figure for figure in figures}
    loss_axis = charts["Loss"]["layout"]["yaxis"]
    assert loss_axis["type"] == "log"
    ticks = zip(loss_axis["ticktext"], loss_axis["tickvals"], strict=True)
    assert all(text == f"{value:g}" for text, value in ticks)
    accuracy_axis = charts["Accuracy"]["layout"]["yaxis"]
    assert accuracy_axis["tickformat"] == ".0%" and accuracy_axis["range"][1] <= 1.01

    # A second run is compared with the first.
    app.text_input(key="train_hidden_layers").set_value("64").run()
    app.button(key="train_start").click().run()
    second = ui.job_manager().jobs(owner=app.session_state[ui.KEY_SESSION_ID])[0]
    ui.job_manager().wait(second.id, timeout=300)
    app.run()
    assert not app.exception
    note = second.result.note
    assert note.startswith("more neurons, ")
    assert any(note in element.value for element in app.markdown)


SETTING_KINDS = ("text_input", "number_input", "selectbox", "radio", "slider", "checkbox")


def settings_shown(app) -> dict:
    """Setting widget key -> (kind, value): what the browser shows (and sends back)."""
    return {
        widget.key: (kind, widget.value)
        for kind in SETTING_KINDS
        for widget in getattr(app, kind)
        if widget.key and widget.key.startswith("train_") and widget.key != "train_preset"
    }


def test_train_pressed_before_the_browser_showed_a_preset_trains_the_preset(isolated_run_store):
    """A browser sends every widget's value with each interaction. Train pressed after the
    preset's summary arrived but before its settings did (a loaded server, the run still
    drawing them) sent the old preset's settings along with Quick look in the box: the
    default preset was trained (tests/browser/test_journeys_browser.py, load 20+)."""
    app = train_page()
    before = settings_shown(app)
    app.selectbox(key="train_preset").set_value("Quick look").run()
    changed = {key for key, shown in settings_shown(app).items() if shown != before[key]}
    assert {"train_hidden_layers", "train_epochs", "train_use_subset"} <= changed
    # The message of a browser that has not drawn the preset's settings yet.
    for key in changed:
        kind, value = before[key]
        getattr(app, kind)(key=key).set_value(value)
    app.button(key="train_start").click().run()
    assert not app.exception
    owner = app.session_state[ui.KEY_SESSION_ID]
    (job,) = ui.job_manager().jobs(owner=owner)
    assert job.name == "Quick look · 2 ep · seed 0"
    # The page goes on showing the preset, and the next interaction keeps it.
    assert app.selectbox(key="train_preset").value == "Quick look"
    assert app.text_input(key="train_hidden_layers").value == "64"
    assert any("50,890 parameters" in element.value for element in app.markdown)
    ui.job_manager().wait(job.id, timeout=300)
    app.number_input(key="train_seed").set_value(4).run()
    assert app.text_input(key="train_hidden_layers").value == "64"
    assert app.number_input(key="train_epochs").value == 2


def test_a_setting_changed_back_right_after_a_preset_is_kept():
    """Once the browser shows a preset, a setting set back to its old value is the
    visitor's choice, not a stale browser."""
    app = train_page()
    app.selectbox(key="train_preset").set_value("Quick look").run()
    app.number_input(key="train_epochs").set_value(PRESETS["Recommended"].epochs).run()
    assert not app.exception
    assert app.number_input(key="train_epochs").value == PRESETS["Recommended"].epochs
    assert app.text_input(key="train_hidden_layers").value == "64"
    assert app.selectbox(key="train_preset").value == "Custom"
    config, _ = TrainingConfig.from_query_params(dict(app.query_params))
    assert config.epochs == PRESETS["Recommended"].epochs and config.hidden_layers == (64,)


def test_switching_to_sgd_proposes_its_learning_rate_but_keeps_a_typed_one():
    app = train_page()
    assert app.number_input(key="train_learning_rate").value == PRESETS["Recommended"].learning_rate
    app.selectbox(key="train_optimizer").set_value("sgd").run()
    assert not app.exception
    assert app.number_input(key="train_learning_rate").value == pytest.approx(0.01)
    app.number_input(key="train_learning_rate").set_value(0.005).run()
    app.selectbox(key="train_optimizer").set_value("rmsprop").run()
    assert app.number_input(key="train_learning_rate").value == pytest.approx(0.005)
    config, _ = TrainingConfig.from_query_params(dict(app.query_params))
    assert (config.optimizer, config.learning_rate) == ("rmsprop", 0.005)
    # A preset brings its own rate again, and the next switch proposes the default.
    app.selectbox(key="train_preset").set_value("Recommended").run()
    app.selectbox(key="train_optimizer").set_value("sgd").run()
    assert app.number_input(key="train_learning_rate").value == pytest.approx(0.01)


def test_pressing_train_twice_starts_one_training():
    long = TrainingConfig(hidden_layers=(16,), epochs=200, train_size=1_000, batch_size=8, seed=2)
    app = train_page(**long.to_query_params())
    owner = app.session_state[ui.KEY_SESSION_ID]
    # A second tab of the same visitor, drawn before the training started: its Train
    # button is still enabled on screen, as after a quick double click.
    other_tab = train_page(**long.to_query_params())
    other_tab.session_state[ui.KEY_SESSION_ID] = owner
    other_tab.run()
    assert not other_tab.button(key="train_start").disabled

    app.button(key="train_start").click().run()
    assert not app.exception
    other_tab.button(key="train_start").click().run()
    assert not other_tab.exception
    jobs = ui.job_manager().jobs(owner=owner)
    assert len(jobs) == 1
    app.run()
    assert app.button(key="train_start").disabled
    assert app.button(key="train_stop").label == "Stop"
    # The sidebar names the job without a bar that would stand still on this page.
    assert len(app.main.get("progress")) == 1
    assert app.sidebar.get("progress") == []
    assert "Live progress is shown on this page." in [c.value for c in app.sidebar.caption]
    assert "already running" in other_tab.info[0].value
    assert other_tab.button(key="train_start").disabled

    app.button(key="train_stop").click().run()
    ui.job_manager().wait(jobs[0].id, timeout=300)
    app.run()
    assert not app.exception
    assert not app.button(key="train_start").disabled
    assert len(ui.job_manager().jobs(owner=owner)) == 1


def test_a_training_stopped_before_its_first_epoch_keeps_the_current_model():
    # Batches of one image: the first epoch is tens of thousands of steps long.
    slow = TrainingConfig(hidden_layers=(16,), epochs=3, batch_size=1, seed=3)
    app = train_page(**slow.to_query_params())
    earlier = ui.CurrentModel(model=None, label="An earlier model (97.80%)")
    app.session_state[ui.KEY_CURRENT_MODEL] = earlier
    app.button(key="train_start").click().run()
    job = ui.job_manager().jobs(owner=app.session_state[ui.KEY_SESSION_ID])[0]
    wait_until(lambda: job.state == "running")
    app.button(key="train_stop").click().run()
    ui.job_manager().wait(job.id, timeout=300)
    assert job.result.result.stopped
    app.run()
    assert not app.exception
    assert app.session_state[ui.KEY_CURRENT_MODEL].label == earlier.label
    warning = app.warning[0].value
    assert warning.startswith("Stopped after 0 of 3 epochs")
    assert "the current model is unchanged" in warning
    assert "It was not made your current model." in app.caption[-1].value or any(
        "not made your current model" in caption.value for caption in app.caption
    )


def test_changing_only_the_seed_keeps_the_preset():
    """The seed is not a preset setting: the box keeps naming the preset."""
    app = train_page()
    app.selectbox(key="train_preset").set_value("As in the article").run()
    app.number_input(key="train_seed").set_value(3).run()
    assert not app.exception
    assert app.selectbox(key="train_preset").value == "As in the article"
    config, _ = TrainingConfig.from_query_params(dict(app.query_params))
    assert config.seed == 3 and config.epochs == PRESETS["As in the article"].epochs
    app.number_input(key="train_epochs").set_value(5).run()
    assert app.selectbox(key="train_preset").value == "Custom"


def test_a_stopped_run_that_scores_lower_keeps_the_better_current_model(isolated_run_store):
    """The issue: a run stopped after 9 epochs (93.75%) silently replaced 95.58%."""
    import re

    from core.runs import RunStore

    long = TrainingConfig(hidden_layers=(8,), epochs=200, train_size=1_000, batch_size=50, seed=2)
    app = train_page(**long.to_query_params())
    owner = app.session_state[ui.KEY_SESSION_ID]
    better_id = RunStore(isolated_run_store).save_run(
        "network", "A better model", TrainingConfig().to_dict(), None,
        {"test_accuracy": 0.99, "test_loss": 0.03},
        {"train_seconds": 1.0, "predict_seconds": 0.1}, owner=owner,
    )  # fmt: skip
    better = ui.CurrentModel(model=None, label="A better model (99.00%)", run_id=better_id)
    app.session_state[ui.KEY_CURRENT_MODEL] = better
    app.run()
    app.button(key="train_start").click().run()
    job = ui.job_manager().jobs(owner=owner)[0]
    assert job.name == "784-8-10 relu, adam 0.001, 200 ep, 1,000 images · seed 2"
    wait_until(lambda: len(job.history) >= 2)
    app.button(key="train_stop").click().run()
    ui.job_manager().wait(job.id, timeout=300)
    result = job.result.result
    assert result.stopped and result.test_accuracy < 0.99
    app.run()
    assert not app.exception

    # The stored run's name says what was trained.
    epochs = len(result.history["loss"])
    name = f"784-8-10 relu, adam 0.001, {epochs} of 200 ep, stopped, 1,000 images · seed 2"
    assert job.result.name == name
    assert RunStore(isolated_run_store).get_run(job.result.run_id).name == name
    assert any(f"**Latest training:** {name}" in element.value for element in app.markdown)
    # The better model stays current, and the page says so.
    assert app.session_state[ui.KEY_CURRENT_MODEL].run_id == better_id
    warning = app.warning[0].value
    assert re.match(rf"Stopped after {epochs} of 200 epochs", warning)
    assert "made current" not in warning
    assert "Your current model stays **A better model (99.00%)**" in app.info[0].value
    # The two scores may come from different test images: the page says so.
    assert "Each is scored on its own test images" in app.info[0].value
    assert any("not made your current model" in caption.value for caption in app.caption)
    # One click makes the stopped run current anyway.
    app.button(key="train_use_other_model").click().run()
    assert not app.exception
    current = app.session_state[ui.KEY_CURRENT_MODEL]
    assert current.run_id == job.result.run_id
    assert current.label == f"{name} · {result.test_accuracy:.2%}"  # not "seed 0 (2) (…%)"
    assert any("now your current model" in caption.value for caption in app.caption)


def test_a_finished_run_that_scores_lower_is_shown_and_the_better_one_offered_back(
    isolated_run_store,
):
    """A learner who trains to the end sees the new model, and can go back in one click."""
    from core.nn.model import build_model
    from core.runs import RunStore

    tiny = TrainingConfig(hidden_layers=(8,), epochs=1, train_size=500, seed=5)
    app = train_page(**tiny.to_query_params())
    owner = app.session_state[ui.KEY_SESSION_ID]
    better_id = RunStore(isolated_run_store).save_run(
        "network", "A better model", tiny.to_dict(), None,
        {"test_accuracy": 0.99, "test_loss": 0.03},
        {"train_seconds": 1.0, "predict_seconds": 0.1}, owner=owner, model=build_model(tiny),
    )  # fmt: skip
    app.session_state[ui.KEY_CURRENT_MODEL] = ui.CurrentModel(
        model=None, label="A better model (99.00%)", run_id=better_id
    )
    app.run()
    app.button(key="train_start").click().run()
    job = ui.job_manager().jobs(owner=owner)[0]
    ui.job_manager().wait(job.id, timeout=300)
    assert not job.result.result.stopped and job.result.result.test_accuracy < 0.99
    app.run()
    assert not app.exception
    assert app.session_state[ui.KEY_CURRENT_MODEL].run_id == job.result.run_id
    assert "though your previous one, **A better model (99.00%)**, scores higher" in (
        app.info[0].value
    )
    app.button(key="train_use_other_model").click().run()
    assert not app.exception
    assert app.session_state[ui.KEY_CURRENT_MODEL].run_id == better_id
    assert any("You chose another model" in caption.value for caption in app.caption)
