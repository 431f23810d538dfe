"""Run store backends side by side: save and list latency, SQLite against PostgreSQL.

For stores of 10, 1,000 and 10,000 runs on each backend (the SQLite file in a temporary
runs_dir; a database on a throwaway PostgreSQL 15 server on loopback, `testkit.postgres`),
the script fills the store with realistic records in bulk (networks with a 20-epoch history,
a confusion matrix and a model file; baselines; owners and address keys as the demo makes
them), then times:

- ``save_run``: a new network run without a model (the database's part of a save), median
  of `SAVE_REPEATS`;
- ``list_runs()``: every run, as the Compare page lists them locally, median of
  `LIST_REPEATS`; and ``run_numbers()``;
- at 1,000 and 10,000 runs, the Compare page (an AppTest of ``app_pages/compare.py``
  through ``app.py``, as tests/apptest run it, with MNIST_STUDIO_RUNS_DIR and
  MNIST_STUDIO_DATABASE_URL set, in a child process): its first run, then the median of
  `PAGE_REPEATS` reruns; a page that has not finished within `PAGE_LIMIT_SECONDS` is
  stopped and reported as such;
- at 10,000 runs, what the page's pickers pay per option: ``run_label`` (compare.py) looks
  a run up with ``runs.set_index("id").loc[run_id]``, once for each of the 10,000 options of
  each picker.

The two backends are measured one after the other for each size, so both see the same load;
the load average is printed at the start and the end. Both are durable, as a user's would
be: the PostgreSQL server here waits for the disk at each commit (``fsync`` and
``synchronous_commit`` on, unlike the tests' server), as SQLite does.

Run: .venv/bin/python -m bench.bench_store_backends [--sizes 10 1000] [--no-page]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from bench.timing import median_seconds

SIZES = (10, 1_000, 10_000)
PAGE_SIZES = (1_000, 10_000)
PAGE_LIMIT_SECONDS = 240
PROJECT_ROOT = Path(__file__).resolve().parents[1]
SAVE_REPEATS = 25
LIST_REPEATS = 7
PAGE_REPEATS = 3
FILL_CHUNK = 1_000
RUNS_PER_OWNER = 8
BACKENDS = ("sqlite", "postgresql")
# The tests' server options without the ones that skip the disk (testkit.postgres.FAST_OPTIONS).
DURABLE_OPTIONS = "-c max_connections=200 -c listen_addresses=127.0.0.1"


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def realistic_fields(index: int, rng: np.random.Generator) -> dict:
    """The record columns of one run as `RunStore.save_run` makes them (4 in 5 networks)."""
    from core.nn import TrainingConfig
    from core.runs.records import record_fields

    matrix = np.diag(rng.integers(900, 1_100, size=10)) + rng.integers(0, 8, size=(10, 10))
    if index % 5 == 4:
        return record_fields(
            "baseline", "Random Forest, 10,000 images, unit pixels",
            {"baseline": "Random Forest", "train_size": 10_000, "split": "standard",
             "seed": int(index % 7)},
            None, {"test_accuracy": float(rng.uniform(0.9, 0.97))},
            {"train_seconds": float(rng.uniform(1, 30)), "predict_seconds": 0.4},
            matrix, status="finished", owner=None, parameters=None, dataset="MNIST",
            summary=None, epochs=None,
        )  # fmt: skip
    epochs = 20
    config = TrainingConfig(hidden_layers=(128,), epochs=epochs, seed=int(index % 7)).to_dict()
    loss = np.sort(rng.uniform(0.05, 0.6, size=epochs))[::-1]
    history = {
        "loss": loss.tolist(),
        "accuracy": (1 - loss / 4).tolist(),
        "val_loss": (loss * 1.1).tolist(),
        "val_accuracy": (1 - loss / 3.5).tolist(),
    }
    return record_fields(
        "network", f"As in the article · {epochs} ep · seed {index % 7}", config, history,
        {"test_accuracy": float(rng.uniform(0.94, 0.98)), "test_loss": float(loss[-1])},
        {"train_seconds": float(rng.uniform(8, 40)), "predict_seconds": 0.3},
        matrix, status="finished" if index % 11 else "stopped", owner=None,
        parameters=101_770, dataset="MNIST", summary=None, epochs=epochs,
    )  # fmt: skip


def fill(store, count: int) -> float:
    """Add `count` realistic runs to an empty store in bulk; return the seconds it took.

    The records are what `save_run` writes (ids, times a minute apart, numbers across the
    store and per owner, address keys); each network gets a small model (a file in
    ``models/`` on SQLite, a row of ``model_blobs`` on PostgreSQL), so the list's check that
    a run's model is there has something to find.
    """
    import sqlalchemy as sa

    from core.runs.records import split_and_seed
    from core.runs.schema import model_blobs, runs

    started = time.perf_counter()
    rng = np.random.default_rng(22)
    first = datetime.now(UTC) - timedelta(minutes=count + 10)
    owner_numbers: dict[str, int] = {}
    rows = []
    for index in range(count):
        created = first + timedelta(minutes=index)
        owner = f"visitor-{index // RUNS_PER_OWNER:05d}"
        owner_numbers[owner] = owner_numbers.get(owner, 0) + 1
        fields = {**realistic_fields(index, rng), "owner": owner}
        run_id = f"{created:%Y%m%d-%H%M%S}-{index:06x}"
        model_file = f"{run_id}.keras" if fields["kind"] == "network" else None
        split, seed = split_and_seed(fields["config_json"])
        rows.append(
            {
                **fields, "id": run_id, "created": created.isoformat(timespec="seconds"),
                "model_file": model_file, "model_size": 1_221_000 if model_file else None,
                "model_sha256": None,
                "address": store._records.address_key(f"10.{index % 200}.0.1"),
                "seq": index + 1, "owner_number": owner_numbers[owner],
                "split": split, "seed": seed,
            }
        )  # fmt: skip
        if model_file and store.database.is_sqlite:
            (store.models_folder / model_file).write_bytes(b"placeholder")
    blobs = [
        {"file_name": row["model_file"], "chunk": 0, "data": b"placeholder", "created": 0.0}
        for row in rows
        if row["model_file"] and not store.database.is_sqlite
    ]
    with store.database.transaction(exclusive=True) as connection:
        for start in range(0, len(rows), FILL_CHUNK):
            connection.execute(sa.insert(runs), rows[start : start + FILL_CHUNK])
        for start in range(0, len(blobs), FILL_CHUNK):
            connection.execute(sa.insert(model_blobs), blobs[start : start + FILL_CHUNK])
    return time.perf_counter() - started


def time_store(store) -> dict[str, float]:
    """Median seconds of save_run, list_runs() and run_numbers() on a filled store."""
    rng = np.random.default_rng(7)
    fields = realistic_fields(0, rng)
    config, history = json.loads(fields["config_json"]), json.loads(fields["history_json"])
    matrix = json.loads(fields["confusion_json"])

    def save() -> None:
        store.save_run(
            "network", fields["name"], config, history, json.loads(fields["metrics_json"]),
            json.loads(fields["timings_json"]), confusion_matrix=matrix,
            owner="bench visitor", parameters=101_770, address="192.0.2.1",
        )  # fmt: skip

    return {
        "save": median_seconds(save, SAVE_REPEATS, warmups=2),
        "list": median_seconds(store.list_runs, LIST_REPEATS, warmups=1),
        "numbers": median_seconds(store.run_numbers, LIST_REPEATS, warmups=1),
        "runs": float(len(store.list_runs())),
    }


def compare_page_seconds(folder: Path, database_url: str | None) -> tuple[float, float, int]:
    """The Compare page on this store: first run, median rerun, rows in its table."""
    from testkit.harness import app_test

    os.environ["MNIST_STUDIO_RUNS_DIR"] = str(folder)
    if database_url:
        os.environ["MNIST_STUDIO_DATABASE_URL"] = database_url
    else:
        os.environ.pop("MNIST_STUDIO_DATABASE_URL", None)
    app = app_test("app_pages/compare.py", timeout=600)
    started = time.perf_counter()
    app.run()
    first = time.perf_counter() - started
    if app.exception:
        raise RuntimeError(f"The Compare page failed: {app.exception[0].message}")
    reruns = []
    for _ in range(PAGE_REPEATS):
        started = time.perf_counter()
        app.run()
        reruns.append(time.perf_counter() - started)
    rows = len(app.dataframe[0].value) if app.dataframe else 0
    return first, statistics.median(reruns), rows


def page_in_child(folder: Path, database_url: str | None) -> tuple[float, float, int] | None:
    """`compare_page_seconds` in a child process; None when it did not finish in time."""
    command = [sys.executable, "-m", "bench.bench_store_backends", "--page", str(folder)]
    try:
        finished = subprocess.run(
            [*command, *([database_url] if database_url else [])], capture_output=True,
            text=True, timeout=PAGE_LIMIT_SECONDS, cwd=PROJECT_ROOT, check=True,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return None
    first, rerun, rows = json.loads(finished.stdout.strip().splitlines()[-1])
    return first, rerun, rows


def label_lookup_seconds(store) -> float:
    """Median seconds of the lookup compare.py's `run_label` makes for one picker option."""
    runs = store.list_runs()
    ids = list(runs["id"])
    picks = iter(ids[:: max(1, len(ids) // 30)] * 2)
    return median_seconds(lambda: runs.set_index("id").loc[next(picks)], 15, warmups=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--no-page", action="store_true", help="skip the Compare page")
    parser.add_argument("--page-sizes", type=int, nargs="+", default=list(PAGE_SIZES),
                        help="the store sizes at which the Compare page is timed")  # fmt: skip
    parser.add_argument(
        "--page", nargs="+", metavar=("RUNS_DIR", "DATABASE_URL"), help=argparse.SUPPRESS
    )  # The child process of `page_in_child`.
    arguments = parser.parse_args()
    if arguments.page:
        folder, *url = arguments.page
        print(json.dumps(compare_page_seconds(Path(folder), url[0] if url else None)))
        return

    from unittest import mock

    from core.runs import RunStore
    from testkit import postgres

    print(f"Load average at the start: {load_average()}  ({os.cpu_count()} cores)")
    with mock.patch.object(postgres, "FAST_OPTIONS", DURABLE_OPTIONS):
        server = postgres.PostgresServer.start()
    scratch = Path(tempfile.mkdtemp(prefix="bench-store-backends-"))
    results: dict[tuple[int, str], dict[str, float]] = {}
    pages: dict[tuple[int, str], tuple[float, float, int] | None] = {}
    lookups: dict[str, float] = {}
    try:
        for size in arguments.sizes:
            for backend in BACKENDS:
                folder = scratch / f"{backend}-{size}"
                url = server.new_database(f"bench_{size}") if backend == "postgresql" else None
                store = RunStore(folder, database_url=url)
                seconds = fill(store, size)
                if store.problems():  # Every run and model must be readable, or the figures lie.
                    raise RuntimeError(f"The filled store has problems: {store.problems()[:2]}")
                results[size, backend] = {**time_store(store), "fill": seconds}
                print(
                    f"{size:>6} runs  {backend:<10}  fill {seconds:6.2f} s  "
                    f"save_run {results[size, backend]['save'] * 1000:7.1f} ms  "
                    f"list_runs {results[size, backend]['list'] * 1000:8.1f} ms  "
                    f"run_numbers {results[size, backend]['numbers'] * 1000:7.1f} ms",
                    flush=True,
                )
                if size == max(arguments.sizes):
                    lookups[backend] = label_lookup_seconds(store)
                    print(f"{size:>6} runs  {backend:<10}  one picker option's run_label "
                          f"lookup {lookups[backend] * 1000:.1f} ms", flush=True)  # fmt: skip
                store.database.dispose()
                if size in arguments.page_sizes and not arguments.no_page:
                    pages[size, backend] = page_in_child(folder, url)
                    print(f"{size:>6} runs  {backend:<10}  Compare page: "
                          f"{_page_text(pages[size, backend])}", flush=True)  # fmt: skip
    finally:
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)

    print(f"\nLoad average at the end: {load_average()}")
    print("\n| runs stored | save_run SQLite | save_run PostgreSQL | list_runs SQLite | "
          "list_runs PostgreSQL | run_numbers SQLite | run_numbers PostgreSQL |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for size in arguments.sizes:
        sqlite, postgres = results[size, "sqlite"], results[size, "postgresql"]
        print(
            f"| {size:,} | {sqlite['save'] * 1000:.1f} ms | {postgres['save'] * 1000:.1f} ms | "
            f"{sqlite['list'] * 1000:.1f} ms | {postgres['list'] * 1000:.1f} ms | "
            f"{sqlite['numbers'] * 1000:.1f} ms | {postgres['numbers'] * 1000:.1f} ms |"
        )
    if pages:
        print("\n| Compare page | first run | rerun (median) | rows |")
        print("| --- | --- | --- | --- |")
        for (size, backend), page in pages.items():
            if page is None:
                print(f"| {size:,} runs, {backend} | not done in {PAGE_LIMIT_SECONDS} s | | |")
            else:
                first, rerun, rows = page
                print(f"| {size:,} runs, {backend} | {first:.2f} s | {rerun:.2f} s | {rows:,} |")
    for backend, seconds in lookups.items():
        print(f"run_label's lookup per option, {backend}: {seconds * 1000:.1f} ms "
              f"(x {max(arguments.sizes):,} options per picker)")  # fmt: skip


def _page_text(page: tuple[float, float, int] | None) -> str:
    if page is None:
        return f"no run finished within {PAGE_LIMIT_SECONDS} s (stopped)"
    first, rerun, rows = page
    return f"first run {first:.2f} s, rerun {rerun:.2f} s (median of {PAGE_REPEATS}), {rows} rows"


if __name__ == "__main__":
    main()
