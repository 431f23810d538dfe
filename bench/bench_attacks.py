"""Benchmark the attacks of issue 12 against a normal model import and a normal training.

1. Model files (findings 1-3): each hostile `.keras` file of `testkit/attack_files.py` and a
   normal small model are imported in a fresh Python process capped at 3 GiB of address
   space and 1 GiB per written file (`resource.setrlimit`), with its own temp folder. For
   each: the outcome (named refusal, loaded and evaluated, or the process's death), seconds
   from the bytes to the refusal, the process's peak RSS before (Python + Keras loaded) and
   after, and the most its temp folder held. With ``--before REF`` the same files also go
   through the app as it was at git ``REF`` (e.g. ``main``), side by side.
2. Training (finding 4): the time `core.nn.budget.check_budget` takes to refuse the review's
   link in the demo, and the estimate against the measured peak RSS growth of a short real
   training (one epoch on a subset) of two configurations, each in its own process.
3. Pruning (issue 20, break 3): a run store with the demo's quota holds 10 visitors' 5 runs
   each (each from its own address); then 200 new cookies save one run each, from one
   address, then (a fresh store) from 200 addresses. How many of the visitors' 50 runs
   survive, how many flood runs were kept or refused, and the mean seconds per save. With
   ``--before REF`` the same simulation also runs on the store of git ``REF``.

Usage:
    .venv/bin/python -m bench.bench_attacks [--before main] [--skip-training] [--only-pruning]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

from testkit.attack_files import ATTACKS, run_import_in_subprocess, small_model_bytes

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Let a child write what the attack makes it write (3 x 200 MiB), to measure it.
BENCH_FILE_SIZE_BYTES = 2**30


def export_ref(ref: str, folder: Path) -> Path:
    """Write the files of git `ref` into `folder` (no .git) and return it."""
    archive = subprocess.run(
        ["git", "archive", ref], cwd=PROJECT_ROOT, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    # The harness itself (testkit/attack_files.py) is today's, so both sides run the same child.
    (folder / "tests").mkdir(exist_ok=True)
    return folder


def bench_imports(before: str | None) -> None:
    base = small_model_bytes()
    files = {name: build(base) for name, build in ATTACKS.items()}
    roots = {"now": PROJECT_ROOT}
    with tempfile.TemporaryDirectory() as scratch:
        if before:
            roots[before] = export_ref(before, Path(scratch) / "before")
        print("| file | size | code | outcome | s to refusal | RSS before (MiB) | peak RSS (MiB) "
              "| temp folder peak |")  # fmt: skip
        print("|---|---:|---|---|---:|---:|---:|---:|")
        for name, data in files.items():
            for label, root in roots.items():
                with tempfile.TemporaryDirectory() as folder:
                    outcome = run_import_in_subprocess(
                        data, Path(folder), demo=True, project_root=root,
                        file_size_bytes=BENCH_FILE_SIZE_BYTES,
                    )  # fmt: skip
                if outcome.returncode != 0:
                    result = f"process died ({outcome.returncode})"
                elif outcome.error:
                    result = outcome.error
                else:
                    result = "loaded, evaluated 2,000 images"
                seconds = "–" if outcome.seconds is None else f"{outcome.seconds:.2f}"
                rss_before = (
                    "–" if outcome.rss_before_mib is None else f"{outcome.rss_before_mib:.0f}"
                )
                peak = "–" if outcome.peak_rss_mib is None else f"{outcome.peak_rss_mib:.0f}"
                print(
                    f"| {name} | {len(data) / 2**20:.2f} MiB | {label} | {result} | {seconds} "
                    f"| {rss_before} | {peak} | {outcome.temp_peak_bytes / 2**20:.0f} MiB |",
                    flush=True,
                )


_TRAIN_CHILD = """
import json, resource, sys
from core.nn.config import TrainingConfig
from core.data.datasets import load_default_dataset
from core.nn.training import train_model
config = TrainingConfig.from_dict(json.loads(sys.argv[1]))
dataset = load_default_dataset()
import keras
keras.ops.ones((1,))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
train_model(config, dataset)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print("RESULT " + json.dumps({"before": before, "after": after}))
"""


def bench_training() -> None:
    from core import settings
    from core.nn.budget import check_budget, format_bytes, job_budget
    from core.nn.config import TrainingConfig

    attack = TrainingConfig(
        architecture="cnn", conv_filters=(512,) * 4, hidden_layers=(512,) * 4, epochs=30,
        batch_size=60_000,
    )  # fmt: skip
    started = time.perf_counter()
    repeats = 1000
    for _ in range(repeats):
        with contextlib.suppress(ValueError):
            check_budget(attack, 60_000, settings.DEMO_LIMITS)
    per_check = (time.perf_counter() - started) / repeats
    print(f"\nRefusing the review's link in the demo: {per_check * 1e6:.0f} µs per check.\n")

    configs = {
        "Recommended, 4,096 images": TrainingConfig(
            hidden_layers=(256,), epochs=1, train_size=4_096, validation_fraction=0.0
        ),
        "CNN 64-64-64 + 4x512, batch 512, 4,096 images": TrainingConfig(
            architecture="cnn", conv_filters=(64, 64, 64), hidden_layers=(512,) * 4, epochs=1,
            batch_size=512, train_size=4_096, validation_fraction=0.0,
        ),
        "CNN 512 + 512, batch 256, 1,024 images": TrainingConfig(
            architecture="cnn", conv_filters=(512,), hidden_layers=(512,), epochs=1,
            batch_size=256, train_size=1_024, validation_fraction=0.0,
        ),
    }  # fmt: skip
    print("| training | estimate (core.nn.budget) | measured peak RSS growth | ratio | seconds |")
    print("|---|---:|---:|---:|---:|")
    for name, config in configs.items():
        estimate = job_budget(config, 60_000, settings.Limits()).memory_bytes
        started = time.perf_counter()
        output = subprocess.run(
            [sys.executable, "-c", _TRAIN_CHILD, json.dumps(config.to_dict())],
            cwd=PROJECT_ROOT, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        seconds = time.perf_counter() - started
        line = next(line for line in output.splitlines() if line.startswith("RESULT "))
        result = json.loads(line[7:])
        growth = result["after"] - result["before"]
        print(
            f"| {name} | {format_bytes(estimate)} | {format_bytes(growth)} "
            f"| {estimate / max(growth, 1):.2f} | {seconds:.0f} |",
            flush=True,
        )


# Run in a child in the project root of either version (`bench_pruning`): the store of
# the version at hand, with the demo's quota (a setting that version lacks is left out).
PRUNING_SIMULATION = """
import inspect, json, sys, tempfile, time
from core.runs import RunStore
from core.settings import DEMO_LIMITS as limits
quota = {
    "max_runs": limits.max_runs, "max_age_days": limits.max_run_age_days,
    "max_runs_per_owner": limits.max_runs_per_visitor, "max_bytes": limits.max_store_bytes,
    "max_bytes_per_owner": limits.max_bytes_per_visitor,
    "protected_runs_per_owner": getattr(limits, "protected_runs_per_visitor", None),
    "protected_runs_per_address": getattr(limits, "protected_runs_per_address", None),
    "max_saves_per_address_per_day": getattr(limits, "max_runs_per_address_per_day", None),
}
accepted = inspect.signature(RunStore).parameters
knows_address = "address" in inspect.signature(RunStore.save_run).parameters
results = {}
for scenario in ("one address", "200 addresses"):
    with tempfile.TemporaryDirectory() as folder:
        store = RunStore(folder, **{k: v for k, v in quota.items() if k in accepted})
        def save(owner, address):
            extra = {"address": address} if knows_address else {}
            return store.save_run("baseline", "run", {}, None, {"test_accuracy": 0.9}, {},
                                  owner=owner, **extra)
        visitors = [save(f"visitor{i}", f"8.8.{i}.1") for i in range(10) for _ in range(5)]
        kept = refused = 0
        start = time.perf_counter()
        for index in range(200):
            address = "9.9.9.9" if scenario == "one address" else f"9.0.{index}.1"
            try:
                save(f"cookie{index}", address)
                kept += 1
            except ValueError:
                refused += 1
        seconds = (time.perf_counter() - start) / 200
        ids = set(store.list_runs()["id"])
        survivors = len(set(visitors) & ids)
        lost_by = len({i // 5 for i, run_id in enumerate(visitors) if run_id not in ids})
        results[scenario] = [survivors, lost_by, kept, refused, len(ids), seconds]
print(json.dumps(results))
"""


def bench_pruning(before: str | None) -> None:
    roots = {"now": PROJECT_ROOT}
    with tempfile.TemporaryDirectory() as scratch:
        if before:
            roots[before] = export_ref(before, Path(scratch) / "before")
        print("| flood of 200 one-run cookies | code | visitors' runs left (of 50) "
              "| visitors who lost runs | flood runs kept | refused | runs in store "
              "| ms per save |")  # fmt: skip
        print("|---|---|---:|---:|---:|---:|---:|---:|")
        rows: dict[str, dict[str, list]] = {}
        for label, root in roots.items():
            # The child must import the `core` of the version it measures (an exported older
            # ref, or this checkout), not the one the project's editable install would find: it
            # runs in that version's root (first on a `-c` child's path) with it on PYTHONPATH.
            child = subprocess.run(
                [sys.executable, "-c", PRUNING_SIMULATION],
                cwd=root, env={**os.environ, "PYTHONPATH": str(root)},
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            rows[label] = json.loads(child.stdout.strip().splitlines()[-1])
        for scenario in ("one address", "200 addresses"):
            for label in roots:
                survivors, lost_by, kept, refused, total, seconds = rows[label][scenario]
                print(f"| from {scenario} | {label} | {survivors} | {lost_by} | {kept} "
                      f"| {refused} | {total} | {seconds * 1000:.0f} |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", help="also import the files with the app at this git ref")
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--only-pruning", action="store_true")
    arguments = parser.parse_args()
    if not arguments.only_pruning:
        bench_imports(arguments.before)
        if not arguments.skip_training:
            bench_training()
    bench_pruning(arguments.before)


if __name__ == "__main__":
    main()
