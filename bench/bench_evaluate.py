"""Benchmark the Evaluate page: evaluating the 10,000 test images, building its figures, and a
rerun of the page after picking a confusion-matrix cell (through Streamlit's AppTest).

Run: .venv/bin/python -m bench.bench_evaluate
Targets: evaluation + every figure under 0.5 s; a rerun after picking a cell under 0.3 s.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from pathlib import Path

from bench import timing

PROJECT_ROOT = Path(__file__).resolve().parent.parent

REPEATS = 5
TRAIN_IMAGES = 5000


def median_seconds(function) -> float:
    """Median wall time of `function()` over `REPEATS` calls, after one warm-up call."""
    return timing.median_seconds(function, REPEATS, warmups=1)


def eager_probabilities(model, images, batch_size: int = 512):
    """The eager alternative to `predict_on_batch`, for comparison."""
    import numpy as np

    return np.concatenate(
        [
            np.asarray(model(images[start : start + batch_size].astype(np.float32), training=False))
            for start in range(0, len(images), batch_size)
        ]
    )


def build_every_figure(model, evaluation, images) -> list:
    """The figures the Evaluate page shows for one model, as it builds them."""
    from core import figures
    from core.figures.explore import pixel_heatmap
    from core.figures.prediction import probability_bars
    from core.nn.evaluation import cell_indices, misclassified
    from core.nn.internals import first_layer_weights, layer_activations

    names = evaluation.class_names
    cell = cell_indices(evaluation, 4, 9)[:40]
    mistakes = misclassified(evaluation)[:40]
    index = int(cell[0]) if len(cell) else 0
    built = [
        figures.confusion_matrix_figure(evaluation.confusion_matrix, names, selected=(4, 9)),
        figures.image_grid_figure(images[cell], captions=[f"{i}" for i in cell], columns=10),
        figures.image_grid_figure(images[mistakes], captions=[f"{i}" for i in mistakes]),
        pixel_heatmap(images[index]),
        probability_bars(evaluation.probabilities[index], names, int(evaluation.labels[index])),
        figures.activation_strips_figure(layer_activations(model, images[index]), names),
        figures.confusion_comparison_figure(
            evaluation.confusion_matrix, evaluation.confusion_matrix
        ),
    ]
    with contextlib.suppress(ValueError):  # a model without image-shaped first weights
        built.append(figures.weight_tiles_figure(first_layer_weights(model)))
    return built


def bench_core(label: str, model, dataset) -> None:
    from core.nn.evaluation import evaluate

    images, labels = dataset.test_images, dataset.test_labels
    evaluation = evaluate(model, images, labels)
    evaluate_seconds = median_seconds(lambda: evaluate(model, images, labels))
    figures_seconds = median_seconds(lambda: build_every_figure(model, evaluation, images))
    figures = build_every_figure(model, evaluation, images)
    json_seconds = median_seconds(lambda: [figure.to_json() for figure in figures])
    predict_seconds = median_seconds(lambda: model.predict(images, batch_size=512, verbose=0))
    eager_seconds = median_seconds(lambda: eager_probabilities(model, images))
    total = evaluate_seconds + figures_seconds
    print(f"{label}: accuracy {evaluation.accuracy:.4f} on {len(images):,} test images")
    print(f"  evaluate (forward pass + sklearn metrics): {evaluate_seconds * 1000:7.1f} ms")
    print(f"    for reference, model.predict alone:       {predict_seconds * 1000:7.1f} ms")
    print(f"    and eager model(x) calls, 512 per batch:  {eager_seconds * 1000:7.1f} ms")
    print(f"  build all {len(figures)} figures:                  {figures_seconds * 1000:7.1f} ms")
    print(f"  evaluate + figures (target < 500 ms):       {total * 1000:7.1f} ms")
    print(f"  figures to JSON (what st.plotly_chart sends): {json_seconds * 1000:5.1f} ms")


@contextlib.contextmanager
def streamlit_keras_reset():
    """Run the app as Streamlit does by default: `keras.backend.clear_session()` (with a full
    `gc.collect()`) after every script run. The app turns that off
    (`ui.keep_keras_state_between_runs`); this puts it back, to measure what it costs."""
    from streamlit.runtime.scriptrunner import script_runner

    import ui

    current = script_runner._clean_problem_modules
    keep = ui.keep_keras_state_between_runs
    ui.keep_keras_state_between_runs = lambda: None
    script_runner._clean_problem_modules = getattr(current, "streamlit_original", current)
    try:
        yield
    finally:
        ui.keep_keras_state_between_runs = keep
        script_runner._clean_problem_modules = current


def time_reruns(model, config) -> dict:
    """Time page reruns after picking cells, with the evaluation already cached (seconds)."""
    import streamlit as st

    import ui
    from testkit.harness import app_test

    st.cache_data.clear()  # so each measurement's first run evaluates the model again
    st.cache_resource.clear()
    app = app_test("app_pages/evaluate.py", timeout=300)
    app.session_state[ui.KEY_CURRENT_MODEL] = ui.CurrentModel(
        model=model, label="bench 784-128-10", config=config
    )
    start = time.perf_counter()
    app.run()
    first = time.perf_counter() - start
    if app.exception:
        raise RuntimeError(app.exception[0].message)
    cells = [(4, 9), (7, 2), (3, 5), (8, 3), (9, 4), (5, 3), (2, 7)]
    picks = []
    for true_label, predicted_label in cells:
        app.selectbox(key="evaluate_true").set_value(true_label)
        app.selectbox(key="evaluate_predicted").set_value(predicted_label)
        start = time.perf_counter()
        app.run()
        picks.append(time.perf_counter() - start)
    picks = picks[1:]  # the first pick still warms code paths
    again = []
    for _ in range(3):  # the same cell again: every figure is remembered
        start = time.perf_counter()
        app.run()
        again.append(time.perf_counter() - start)
    home = app_test(None, timeout=300)
    home.run()
    return {
        "first run, evaluation included": first,
        "rerun after picking a cell (median)": statistics.median(picks),
        "rerun after picking a cell (max)": max(picks),
        "rerun without a change": statistics.median(again),
        "for reference, a rerun of the Home page": median_seconds(home.run),
    }


def bench_rerun(model, config) -> None:
    """The page's reruns as the app runs them, and with Streamlit's per-run Keras reset."""
    kept = time_reruns(model, config)
    with streamlit_keras_reset():
        reset = time_reruns(model, config)
    print("Evaluate page through AppTest (whole app: navigation, sidebar, page), ms:")
    print(f"  {'':44} {'the app':>9} {'with reset':>11} {'ratio':>6}")
    for name, seconds in kept.items():
        print(
            f"  {name:44} {seconds * 1000:9.1f} {reset[name] * 1000:11.1f} "
            f"{reset[name] / seconds:6.1f}"
        )
    print("  target: a rerun after picking a cell under 300 ms")


def main() -> None:
    import keras

    from core.data.datasets import load_default_dataset
    from core.nn.model import build_model
    from core.nn.presets import PRESETS

    dataset = load_default_dataset()
    config = PRESETS["As in the article"]
    model = build_model(config)
    model.fit(
        dataset.train_images[:TRAIN_IMAGES], dataset.train_labels[:TRAIN_IMAGES],
        epochs=1, batch_size=128, verbose=0,
    )  # fmt: skip
    bench_core(f"Dense 784-128-10 ({TRAIN_IMAGES:,} images, 1 epoch)", model, dataset)
    default_path = PROJECT_ROOT / "models" / "default" / "model.keras"
    if default_path.exists():
        cnn = keras.saving.load_model(default_path, safe_mode=True)
        bench_core("Shipped default CNN", cnn, dataset)
    bench_rerun(model, config)


if __name__ == "__main__":
    main()
