"""What a 100 MB baseline's model file costs kept in PostgreSQL against a file on disk.

Side by side in one run, through `core.runs.RunStore` as the app uses it: SQLite (the model
file in ``models/``, fsynced) and PostgreSQL (its chunks in ``model_blobs``,
`core.runs.model_blobs`), on a local PostgreSQL 15 started with its durable defaults (fsync
on, unlike the tests' server). For each: saving the run (joblib writes the file, then the
store keeps it), reading it back on a new machine (a store on an empty folder: the chunks
fetched into the local cache and digest-checked), reading it again (the cache's copy), loading
it (joblib), and what it adds to the disk or the database. Then the sizes of the app's own
largest models in the demo profile, to check the cap (`DEMO_LIMITS.max_model_bytes`) keeps
them. Figures: bench/README.md, "Model files in PostgreSQL (issue 22)".

Run from the project root: ``python -m bench.bench_model_blobs [--megabytes 100]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from bench.timing import median_seconds
from core.runs import RunStore
from testkit.postgres import PostgresServer, bin_dir


class DurableServer(PostgresServer):
    """The tests' throwaway server, but started with PostgreSQL's durable defaults."""

    def resume(self) -> None:
        self._run(
            str(bin_dir() / "pg_ctl"), "-D", str(self.folder / "data"),
            "-l", str(self.folder / "server.log"),
            "-o", f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1",
            "-w", "-t", "60", "start",
        )  # fmt: skip


class NoiseEstimator:
    """A stand-in baseline: a fitted model whose stored numbers are incompressible noise, as a
    Random Forest's or k-NN's compressed joblib file is (it pickles like any estimator)."""

    def __init__(self, size: int, seed: int) -> None:
        self.values = np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8)

    def predict(self, features):
        return np.zeros(len(features), dtype=np.int64)


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def database_bytes(store: RunStore) -> tuple[int, int]:
    """(the model_blobs table with its TOAST and indexes, the whole database) in bytes."""
    with store.database.transaction() as connection:
        table = connection.execute(sa.text("SELECT pg_total_relation_size('model_blobs')"))
        table_bytes = table.scalar_one()
        whole = connection.execute(sa.text("SELECT pg_database_size(current_database())"))
        return table_bytes, whole.scalar_one()


def measure(backend: str, url: str | None, estimator, repeats: int, work: Path) -> dict:
    """Time saving, a cold and a warm read and a load of one model on one backend."""
    figures: dict = {}
    writer = RunStore(work / f"{backend}-writer", database_url=url)
    ids: list[str] = []

    def save() -> None:
        ids.append(
            writer.save_run(
                "baseline", "noise", {}, None, {"test_accuracy": 0.5}, {}, model=estimator
            )
        )

    before = database_bytes(writer) if url else (0, 0)
    figures["save"] = median_seconds(save, repeats)
    run_id = ids[-1]
    figures["file bytes"] = int(writer.get_run(run_id).model_size)
    if url:
        after = database_bytes(writer)
        figures["stored bytes"] = (after[0] - before[0]) / len(ids)
        figures["database bytes"] = (after[1] - before[1]) / len(ids)
    else:
        figures["stored bytes"] = folder_bytes(writer.models_folder) / len(ids)
    # The storage alone: the same file's bytes, which the store keeps as they are.
    file_bytes = writer.model_file(run_id).read_bytes()
    figures["keep the bytes"] = median_seconds(
        lambda: writer.save_run(
            "network", "bytes", {}, None, {"test_accuracy": 0.5}, {}, model=file_bytes
        ),
        repeats,
    )

    def cold_read() -> None:
        # A new machine: a store on an empty folder (SQLite can only read its own disk).
        folder = work / f"{backend}-reader"
        shutil.rmtree(folder, ignore_errors=True)
        reader = RunStore(folder, database_url=url) if url else writer
        reader.model_file(run_id)

    figures["cold read"] = median_seconds(cold_read, repeats)
    figures["warm read"] = median_seconds(lambda: writer.model_file(run_id), repeats)
    figures["load"] = median_seconds(lambda: writer.load_model(run_id), repeats, warmups=1)
    writer.database.dispose()
    return figures


def demo_model_sizes() -> dict[str, int]:
    """The .keras file size of the demo profile's largest networks, with their optimizer."""
    import keras

    from core.nn.config import TrainingConfig
    from core.nn.model import build_model

    largest = {
        "dense 784-512x4-10 (demo's largest)": TrainingConfig(hidden_layers=(512,) * 4),
        "CNN 64-64-64 + 512x4 (demo's largest)": TrainingConfig(
            architecture="cnn", conv_filters=(64, 64, 64), hidden_layers=(512,) * 4
        ),
    }
    sizes = {}
    for label, config in largest.items():
        model = build_model(config, 10)
        # One step builds the optimizer's slots, which the store's file keeps.
        model.fit(np.zeros((8, 28, 28), "uint8"), np.zeros(8, "int64"), epochs=1, verbose=0)
        with tempfile.TemporaryDirectory(prefix="bench-blobs-") as folder:
            path = Path(folder) / "model.keras"
            model.save(path)
            sizes[label] = path.stat().st_size
        keras.backend.clear_session()
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=100.0)
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()
    estimator = NoiseEstimator(int(arguments.megabytes * 1e6), seed=0)
    server = DurableServer.start()
    work = Path(tempfile.mkdtemp(prefix="bench-blobs-"))
    try:
        started = time.perf_counter()
        results = {
            "SQLite + file": measure("sqlite", None, estimator, arguments.repeats, work),
            "PostgreSQL chunks": measure(
                "postgresql", server.new_database("bench"), estimator, arguments.repeats, work
            ),
        }
        print(f"load average {os.getloadavg()[0]:.1f}, {time.perf_counter() - started:.0f} s")
        disk, database = results["SQLite + file"], results["PostgreSQL chunks"]
        print(f"model file: {disk['file bytes'] / 1e6:.1f} MB (joblib, compressed)")
        print("| measurement | SQLite + file | PostgreSQL | ratio |")
        print("|---|---:|---:|---:|")
        for key in ("save", "keep the bytes", "cold read", "warm read", "load"):
            print(
                f"| {key} | {disk[key]:.2f} s | {database[key]:.2f} s | "
                f"{database[key] / disk[key]:.2f} |"
            )
        print(
            f"| stored | {disk['stored bytes'] / 1e6:.1f} MB | "
            f"{database['stored bytes'] / 1e6:.1f} MB (database grew "
            f"{database['database bytes'] / 1e6:.1f} MB) | "
            f"{database['stored bytes'] / disk['stored bytes']:.2f} |"
        )
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    for label, size in demo_model_sizes().items():
        print(f"{label}: {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
