"""Training and page reruns of two checkouts side by side: did a restructuring change speed?

Each round starts one fresh Python per checkout, in turn (before, after, before, after...), so
both see the same machine load. A child:
- imports the app's modules as a page run would (``import ui``) and times it;
- trains the article's network (784-128-10, batch 128, 45,000 images) for ``--epochs`` epochs
  through the app's own training function and reports its training seconds;
- runs each page of the app once through Streamlit's AppTest (the first run builds caches),
  then ``--reruns`` more times, and reports the median rerun seconds per page.
The checkouts are folders (e.g. a git worktree of the old commit). The children import each
checkout's own code (its root first on the path), whatever its module layout.

    git worktree add --detach /tmp/before <old commit>
    python -m bench.bench_structure --before /tmp/before --after . --rounds 3

Without ``--before`` the checkout is compared with itself: the ratios then show the noise.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, os, statistics, sys, time
started = time.perf_counter()
import ui  # noqa: F401  (what every page run imports first)
import_seconds = time.perf_counter() - started
import importlib


def find(name, *modules):
    # `name` from the first of `modules` that has it (the checkouts lay modules out differently).
    for module in modules:
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
    raise ImportError(name)


PRESETS = find("PRESETS", "core.nn", "core.nn.presets", "core.nn.config", "core.config")
train_model = find("train_model", "core.nn", "core.nn.training", "core.training")
load_default_dataset = find(
    "load_default_dataset", "core.data", "core.data.datasets", "core.data")
ARTICLE = "As in the article"
from dataclasses import replace
from streamlit.testing.v1 import AppTest

epochs, reruns = int(sys.argv[1]), int(sys.argv[2])
dataset = load_default_dataset()
config = replace(PRESETS[ARTICLE], epochs=epochs)
train_model(replace(config, epochs=1, train_size=2_000), dataset)  # untimed warm-up
train_seconds = train_model(config, dataset).train_seconds
pages = {}
for page in ui.PAGES:
    app = AppTest.from_file("app.py", default_timeout=120)
    app.switch_page(page.path)
    app.run()
    times = []
    for _ in range(reruns):
        t = time.perf_counter()
        app.run()
        times.append(time.perf_counter() - t)
    pages[page.path] = statistics.median(times)
print("RESULT " + json.dumps(
    {"import_seconds": import_seconds, "train_seconds": train_seconds, "pages": pages}))
"""


def run_child(root: Path, epochs: int, reruns: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(root), "MNIST_STUDIO_RUNS_DIR": tempfile.mkdtemp()}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(epochs), str(reruns)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    raise RuntimeError(f"{root}: no result\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, default=Path("."))
    parser.add_argument("--after", type=Path, default=Path("."))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--reruns", type=int, default=5)
    args = parser.parse_args()
    results: dict[str, list[dict]] = {"before": [], "after": []}
    for round_number in range(1, args.rounds + 1):
        for label in ("before", "after"):
            root = getattr(args, label).resolve()
            result = run_child(root, args.epochs, args.reruns)
            results[label].append(result)
            load = Path("/proc/loadavg").read_text().split()[0]
            print(
                f"round {round_number} {label}: train {result['train_seconds']:.2f} s, "
                f"import {result['import_seconds']:.2f} s [load {load}]",
                flush=True,
            )

    def median(label: str, pick) -> float:
        return statistics.median(pick(result) for result in results[label])

    rows = [
        ("import ui", lambda r: r["import_seconds"]),
        (f"train article network, {args.epochs} epochs", lambda r: r["train_seconds"]),
    ]
    for page in results["before"][0]["pages"]:
        rows.append((f"rerun {page}", lambda r, page=page: r["pages"][page]))
    print(f"\nmedian of {args.rounds} rounds (seconds); ratio = after / before")
    print(f"{'':45} {'before':>8} {'after':>8} {'ratio':>6}")
    for name, pick in rows:
        before, after = median("before", pick), median("after", pick)
        print(f"{name:45} {before:8.3f} {after:8.3f} {after / before:6.2f}")


if __name__ == "__main__":
    main()
