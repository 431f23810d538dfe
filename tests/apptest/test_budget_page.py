"""Budgets on the pages (issue 12): the Train page shows what a training costs before Train is
pressed and refuses the review's link in the demo; Compare refuses a hostile model file."""

import pytest

import ui
from testkit.attack_files import upsampling_model
from testkit.harness import app_test

ATTACK_LINK = {
    "architecture": "cnn",
    "conv_filters": "512,512,512,512",
    "hidden_layers": "512,512,512,512",
    "epochs": "30",
    "batch_size": "60000",
}


def _train_page(**query):
    app = app_test("app_pages/train.py")
    for name, value in query.items():
        app.query_params[name] = value
    return app.run()


def _budget_line(app) -> str:
    return next(caption.value for caption in app.caption if caption.value.startswith("Budget:"))


@pytest.fixture
def demo(monkeypatch):
    monkeypatch.setenv("MNIST_STUDIO_DEMO_MODE", "1")


def test_the_review_link_cannot_be_trained_in_the_demo_and_says_why(demo):
    app = _train_page(**ATTACK_LINK)
    assert not app.exception
    assert any("at most 512 images per batch" in error.value for error in app.error)
    assert app.button(key="train_start").disabled
    app = _train_page(**{**ATTACK_LINK, "batch_size": "256", "conv_filters": "64,64,64"})
    assert any("trillion operations; this demo allows 10.0 trillion" in e.value for e in app.error)
    assert app.button(key="train_start").disabled


def test_a_refused_network_is_counted_not_built(demo, monkeypatch):
    # Building it for the layer table cost the server 263 MiB per link (bench/README.md).
    import core.nn.model

    built = []
    monkeypatch.setattr(core.nn.model, "build_model", lambda *args, **kwargs: built.append(args))
    link = {"hidden_layers": ",".join(["2048"] * 8), "batch_size": "4096"}
    app = _train_page(**link)
    assert not app.exception
    assert app.button(key="train_start").disabled
    assert built == []
    captions = [caption.value for caption in app.caption]
    assert any(
        "would have 31,002,634 parameters" in text and "layer table is shown once" in text
        for text in captions
    )
    assert not any("Press **Train** to start" in info.value for info in app.info)


def test_the_demo_shows_the_budget_of_an_allowed_training_before_it_starts(demo):
    app = _train_page()
    line = _budget_line(app)
    assert "Operations:" in line and "of 10.0 trillion allowed" in line
    assert "Memory (estimate):" in line
    assert "stops itself after 15 minutes" in line
    assert not app.error and not app.button(key="train_start").disabled


def test_locally_the_budget_has_no_time_limit():
    line = _budget_line(_train_page())
    assert "Time limit: none" in line and "allowed" not in line.split("Memory")[0]


def test_an_upsampling_model_is_refused_on_compare_by_name():
    app = app_test("app_pages/compare.py").run()
    uploader = next(e for e in app.get("file_uploader") if e.key == "compare_import_model")
    uploader.upload("up.keras", upsampling_model()).run()
    assert any("is a UpSampling2D; MNIST Studio imports only" in e.value for e in app.error)
    assert ui.KEY_CURRENT_MODEL not in app.session_state
