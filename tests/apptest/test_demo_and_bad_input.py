"""The public-demo profile, a damaged run store, and bad values on every input surface.

Each case must show a clear message, lose nothing and leave the page usable.
"""

import json

import keras
import pytest

import ui
from core.nn.config import TrainingConfig
from core.nn.model import build_model
from core.runs import RunStore
from testkit.harness import app_test


def _save_network(store: RunStore, name: str, owner: str | None) -> str:
    model = build_model(TrainingConfig(hidden_layers=(4,)))
    return store.save_run(
        "network", name, TrainingConfig(hidden_layers=(4,)).to_dict(), {"loss": [1.0, 0.5]},
        {"test_accuracy": 0.5, "test_loss": 1.0}, {"train_seconds": 1.0}, model=model,
        owner=owner,
    )  # fmt: skip


def _page(path: str, session: str | None = None, **query):
    app = app_test(path)
    if session is not None:
        app.session_state[ui.KEY_SESSION_ID] = session
    for name, value in query.items():
        app.query_params[name] = value
    return app.run()


@pytest.fixture
def demo(monkeypatch):
    monkeypatch.setenv("MNIST_STUDIO_DEMO_MODE", "1")


# The demo profile ----------------------------------------------------------------------------


def test_in_the_demo_each_visitor_sees_only_their_own_runs(demo, isolated_run_store):
    store = RunStore(isolated_run_store)
    _save_network(store, "alice's run", owner="alice")
    _save_network(store, "bob's run", owner="bob")

    compare = _page("app_pages/compare.py", session="alice")
    assert not compare.exception
    assert list(compare.dataframe[0].value["name"]) == ["alice's run"]

    draw = _page("app_pages/draw.py", session="bob")
    options = draw.selectbox(key="draw_model").options
    assert any("bob's run" in option for option in options)
    assert not any("alice's run" in option for option in options)
    assert any("Default model" in option for option in options)

    evaluate = _page("app_pages/evaluate.py", session="carol")
    labels = evaluate.selectbox(key="evaluate_model").options
    assert not any("run" in label for label in labels)
    assert any("default" in label.lower() for label in labels)


def test_locally_every_run_is_visible(isolated_run_store):
    store = RunStore(isolated_run_store)
    _save_network(store, "alice's run", owner="alice")
    _save_network(store, "bob's run", owner="bob")
    compare = _page("app_pages/compare.py", session="carol")
    assert sorted(compare.dataframe[0].value["name"]) == ["alice's run", "bob's run"]


def test_in_the_demo_a_configuration_over_the_caps_cannot_be_trained(demo):
    app = _page("app_pages/train.py", epochs="50", hidden_layers="1024")
    assert not app.exception
    assert any("at most 30 epochs" in error.value for error in app.error)
    assert app.button(key="train_start").disabled
    app.number_input(key="train_epochs").set_value(5).run()
    assert any("at most 512 neurons" in error.value for error in app.error)
    app.text_input(key="train_hidden_layers").set_value("256").run()
    assert not app.error
    assert not app.button(key="train_start").disabled


def test_in_the_demo_the_sweep_limit_is_smaller(demo):
    app = _page("app_pages/compare.py")
    # The default grid (2 neurons x 2 layers x 1 x 1) fits; one more value does not.
    assert not app.error
    app.multiselect(key="compare_sweep_epochs").set_value([1, 2]).run()
    assert any("8 configurations; the limit is 6" in error.value for error in app.error)


# A damaged run store -------------------------------------------------------------------------


@pytest.mark.parametrize("page", [page.path for page in ui.PAGES], ids=lambda path: path)
def test_a_truncated_database_is_reported_and_every_page_still_works(isolated_run_store, page):
    store = RunStore(isolated_run_store)
    _save_network(store, "kept run", owner=None)
    database = isolated_run_store / "runs.sqlite"
    database.write_bytes(database.read_bytes()[:100])
    app = _page(page)
    assert not app.exception, [exception.message for exception in app.exception]
    if page.endswith("compare.py"):
        messages = [element.value for element in [*app.warning, *app.error]]
        assert any("cannot be read" in message for message in messages)


def test_a_missing_model_file_is_reported_and_the_run_still_listed(isolated_run_store):
    store = RunStore(isolated_run_store)
    run_id = _save_network(store, "lost its file", owner=None)
    store.get_run(run_id).model_path.unlink()
    app = _page("app_pages/compare.py")
    assert not app.exception
    assert list(app.dataframe[0].value["name"]) == ["lost its file"]
    assert any("missing" in warning.value.lower() for warning in app.warning)
    assert not [button for button in app.button if button.key == "compare_use_button"]


# Bad values on the input surfaces ------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        {"epochs": "999999999999999999999999", "hidden_layers": "abc", "junk": "1"},
        {"learning_rate": "nan", "batch_size": "-5", "dropout": "0.99", "activation": "<b>"},
        {"hidden_layers": ",".join(["128"] * 5000), "seed": "1e400"},
    ],
    ids=["huge-and-junk", "out-of-range", "very-long"],
)
def test_bad_links_fall_back_to_defaults_and_say_which_were_ignored(query):
    app = _page("app_pages/train.py", **query)
    assert not app.exception
    warning = " ".join(item.value for item in app.warning)
    assert "were not understood" in warning
    # The page still builds a valid configuration and can train.
    assert not app.button(key="train_start").disabled


def test_a_bad_configuration_file_is_refused_and_a_good_one_read():
    app = _page("app_pages/compare.py")
    uploader = app.get("file_uploader")
    assert uploader  # the import tab's uploaders are there
    config = TrainingConfig(hidden_layers=(64,), epochs=3)
    app = _upload(app, "compare_import_config", "run.json", b'{"epochs": 100000}')
    assert any("does not hold a usable configuration" in error.value for error in app.error)
    good = json.dumps({"config": config.to_dict()}).encode()
    app = _upload(app, "compare_import_config", "good.json", good)
    assert not app.error
    assert any("784-64-10" in success.value for success in app.success)


def test_a_hostile_model_file_is_refused_and_nothing_changes(tmp_path):
    inputs = keras.Input((28, 28))
    outputs = keras.layers.Dense(10, activation="softmax")(
        keras.layers.Flatten()(keras.layers.Lambda(lambda x: x * 2)(inputs))
    )
    path = tmp_path / "hostile.keras"
    keras.Model(inputs, outputs).save(path)
    app = _page("app_pages/compare.py")
    app = _upload(app, "compare_import_model", "hostile.keras", path.read_bytes())
    assert any("is a Lambda; MNIST Studio imports only" in error.value for error in app.error)
    assert ui.KEY_CURRENT_MODEL not in app.session_state
    app = _upload(app, "compare_import_model", "junk.keras", b"not a zip at all")
    assert any("not a Keras model file" in error.value for error in app.error)


def _upload(app, key: str, name: str, data: bytes):
    uploader = next(element for element in app.get("file_uploader") if element.key == key)
    uploader.upload(name, data).run()
    return app
