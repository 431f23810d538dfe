"""A new visitor's Evaluate costs little: the default model's scores and figures are shared.

A hundred sessions opening Evaluate pushed the health check to 9.6 s: each first run
evaluated nothing (the evaluation was cached per process) but built every figure again and
kept them in its own session state. The default model's figures are now built once per
process; a model only one session has keeps its figures in that session.
"""

import collections

import pytest

import core.figures
import core.figures.explore
import core.figures.prediction
import core.nn.evaluation
import core.nn.internals
import ui
from testkit.charts import chart
from testkit.harness import app_test

PAGE = "app_pages/evaluate.py"
FIGURES = "evaluate_figures"  # the page's per-session figures
COUNTED = {
    core.nn.evaluation: ("evaluate",),
    core.nn.internals: ("layer_activations",),
    core.figures: (
        "confusion_matrix_figure",
        "image_grid_figure",
        "weight_tiles_figure",
        "activation_strips_figure",
    ),
    core.figures.explore: ("pixel_heatmap",),
    core.figures.prediction: ("probability_bars",),
}


@pytest.fixture
def calls(monkeypatch):
    """Counts calls of the evaluation and of every figure builder the page uses."""
    counter = collections.Counter()
    for module, names in COUNTED.items():
        for name in names:
            original = getattr(module, name)

            def counted(*args, _original=original, _name=name, **kwargs):
                counter[_name] += 1
                return _original(*args, **kwargs)

            monkeypatch.setattr(module, name, counted)
    return counter


def test_a_second_session_shows_the_default_model_without_evaluating_or_drawing_again(calls):
    first = app_test(PAGE).run()
    assert not first.exception
    assert first.selectbox(key="evaluate_model").value == ui.DEFAULT_CHOICE
    calls.clear()

    second = app_test(PAGE).run()
    assert not second.exception
    assert calls == {}  # nothing evaluated, no figure built
    # It shows the same scores and figures as the first session.
    assert second.metric[0].value == first.metric[0].value
    for key in ("evaluate_confusion", "evaluate_weights", "evaluate_activations"):
        assert chart(second, key) == chart(first, key)
    # And keeps none of them in its own session state.
    assert FIGURES not in second.session_state or not second.session_state[FIGURES]


def test_a_model_only_one_session_has_keeps_its_figures_to_itself(calls, trained):
    model, config, _ = trained
    sessions = []
    for _ in range(2):
        app = app_test(PAGE)
        app.session_state[ui.KEY_CURRENT_MODEL] = ui.CurrentModel(
            model=model, label="Test net 784-32-10", config=config
        )
        sessions.append(app.run())
        assert not sessions[-1].exception
    # Each session's model is its own (a session key), so each drew its own confusion matrix.
    assert calls["confusion_matrix_figure"] == 2
