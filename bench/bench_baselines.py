"""Classical baselines against the recommended network, on the full MNIST data.

The article's last exercise: train a Random Forest instead and compare. This script fits every
baseline of `core.nn.baselines.BASELINES` through `train_baseline`, on exactly the training images
the "Recommended" preset trains on (the official split minus its validation share), trains
that network through `core.nn.training.train_model`, and prints one table: training time,
prediction time for the 10,000 test images, test accuracy, model size (pickled, or the
`.keras` file), the file the run store writes (compressed) and the time that takes, and the
stored numbers.

k-nearest neighbours predicts slowly (every test image against every training image), so by
default it predicts only the first ``--knn-test-images`` test images (it is stopped there by
its Stop, as in the app) and its prediction time is scaled to 10,000 images; the table marks
that row. Use ``--knn-test-images 10000`` for the whole test set.

Usage:
    .venv/bin/python -m bench.bench_baselines [--knn-test-images 2000] [--skip-network]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path

from core.data.datasets import load_default_dataset
from core.jobs.tasks import save_baseline_result
from core.nn.baselines import BASELINES, train_baseline
from core.nn.presets import PRESETS
from core.runs import RunStore

PROJECT_ROOT = Path(__file__).resolve().parent.parent


NETWORK_PRESET = "Recommended"


def stop_after_predicting(limit: int, stop_event: threading.Event):
    """A progress function that presses Stop once ``limit`` test images are predicted."""

    def report(stage, done, total, unit):
        if stage == "predicting" and done >= limit:
            stop_event.set()

    return report


def baseline_row(key: str, dataset, config, knn_test_images: int) -> dict:
    stop_event = threading.Event()
    report = None
    if key == "k-nearest neighbours" and knn_test_images < len(dataset.test_images):
        report = stop_after_predicting(knn_test_images, stop_event)
    result = train_baseline(key, dataset, config, report=report, stop_event=stop_event)
    scale = len(dataset.test_images) / result.test_images
    with tempfile.TemporaryDirectory() as folder:
        store = RunStore(Path(folder))
        started = time.perf_counter()
        run_id = save_baseline_result(store, result)
        store_seconds = time.perf_counter() - started
        stored_bytes = store.get_run(run_id).model_path.stat().st_size
    return {
        "model": key + ("*" if scale != 1 else ""),
        "train_images": result.train_images,
        "train_seconds": result.train_seconds,
        "predict_seconds": result.predict_seconds * scale,
        "test_accuracy": result.test_accuracy,
        "test_images": result.test_images,
        "size_bytes": result.model_size_bytes,
        "stored_bytes": stored_bytes,
        "store_seconds": store_seconds,
        "parameters": result.parameters,
    }


def network_row(dataset, config) -> dict:
    from core.nn.training import train_model

    result = train_model(config, dataset)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.keras"
        result.model.save(path)
        size = path.stat().st_size
    return {
        "model": f"Network ({NETWORK_PRESET}: {config.summary(dataset.num_classes)})",
        "train_images": result.num_train,
        "train_seconds": result.train_seconds,
        "predict_seconds": result.predict_seconds,
        "test_accuracy": result.test_accuracy,
        "test_images": result.num_test,
        "size_bytes": size,
        "stored_bytes": size,
        "store_seconds": None,
        "parameters": result.parameters,
    }


def readable_size(size_bytes: int) -> str:
    """Return a size as "132.7 MB" or "31 KB"."""
    if size_bytes >= 1e6:
        return f"{size_bytes / 1e6:.1f} MB"
    return f"{size_bytes / 1e3:.0f} KB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--knn-test-images", type=int, default=2000)
    parser.add_argument("--skip-network", action="store_true")
    arguments = parser.parse_args()

    dataset = load_default_dataset()
    config = PRESETS[NETWORK_PRESET]
    print(
        f"CPU cores: {os.cpu_count()}, load average before: "
        f"{', '.join(f'{value:.1f}' for value in os.getloadavg())}",
        flush=True,
    )
    started = time.perf_counter()
    rows = []
    for key in BASELINES:
        rows.append(baseline_row(key, dataset, config, arguments.knn_test_images))
        print(f"  {key}: done", flush=True)
    if not arguments.skip_network:
        rows.append(network_row(dataset, config))

    print()
    print(
        "| Model | Training images | Train s | Predict s (10k) | Test accuracy | "
        "Model size | Stored file | Saving s | Stored numbers |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        saving = "–" if row["store_seconds"] is None else f"{row['store_seconds']:.2f}"
        print(
            f"| {row['model']} | {row['train_images']:,} | {row['train_seconds']:.1f} | "
            f"{row['predict_seconds']:.2f} | {100 * row['test_accuracy']:.2f}% | "
            f"{readable_size(row['size_bytes'])} | {readable_size(row['stored_bytes'])} | "
            f"{saving} | {row['parameters']:,} |"
        )
    for row in rows:
        if row["model"].endswith("*"):
            print(
                f"\n* predicted {row['test_images']:,} test images; accuracy on those, "
                "prediction time scaled to 10,000."
            )
    print(
        f"\nTotal {time.perf_counter() - started:.0f} s; load average after: "
        f"{', '.join(f'{value:.1f}' for value in os.getloadavg())}"
    )


if __name__ == "__main__":
    main()
