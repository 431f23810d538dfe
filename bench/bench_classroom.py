"""A class's pages under a class's worth of results: the teacher's view and a student's view.

For a class of `--students` (30) with `--runs` (5) stored runs each (a 20-epoch history and a
confusion matrix each, as a Recommended training stores; some stopped, some interrupted, some
over the rule), on SQLite and on PostgreSQL (a throwaway server, `testkit.postgres`), the
script times, through AppTest of ``app_pages/classroom.py`` via ``app.py`` (as the tests run
pages, in this process): the teacher's view's first run and the median and worst of
`--repeats` reruns (what each live refresh costs, every 5 s), then the same for one student's
view. It also prints the class code space against the number of open classes a store keeps
(`core.classes.codes`).

Run: .venv/bin/python -m bench.bench_classroom [--students 30] [--runs 5] [--repeats 10]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def fill(run_store, classes, students: int, runs: int):
    """A class with `students` students and `runs` runs each; return (class, secret, owners)."""
    from core.classes import ACCURACY_WITHIN_PARAMETERS, Challenge
    from core.nn import PRESETS

    created = classes.create("Bench class", Challenge(ACCURACY_WITHIN_PARAMETERS, 150_000))
    owners = [f"browser-{number}" for number in range(students)]
    for number, owner in enumerate(owners):
        classes.join(created.info, owner, f"Student {number:02d}")
    time.sleep(1.1)
    rng = random.Random(3)
    config = PRESETS["Recommended"].to_dict()
    for owner in owners:
        for _ in range(runs):
            accuracy = rng.uniform(0.9, 0.99)
            status = rng.choice(["finished"] * 4 + ["stopped", "interrupted"])
            history = {key: [rng.random() for _ in range(20)]
                       for key in ("loss", "accuracy", "val_loss", "val_accuracy")}  # fmt: skip
            matrix = np.diag(np.full(10, 1000)) if status != "interrupted" else None
            run_store.save_run(
                "network", "run", config, history,
                {} if status == "interrupted" else {"test_accuracy": accuracy},
                {"train_seconds": rng.uniform(5, 40)}, confusion_matrix=matrix, owner=owner,
                status=status, parameters=rng.choice([50_890, 101_770, 203_530]),
                dataset="MNIST",
            )  # fmt: skip
    return created.info, created.secret, owners


def time_page(query: dict[str, str], visitor: str, repeats: int) -> dict[str, float]:
    import ui
    from testkit.harness import app_test

    ui.identity.browser_visitor_id = lambda: visitor
    app = app_test("app_pages/classroom.py")
    for name, value in query.items():
        app.query_params[name] = value
    started = time.perf_counter()
    app.run()
    first = time.perf_counter() - started
    assert not app.exception, app.exception
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        app.run()
        seconds.append(time.perf_counter() - started)
    return {"first": first, "median": statistics.median(seconds), "worst": max(seconds)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    args = parser.parse_args()

    import ui
    from core.classes import ClassStore, code_space, guesses_for_even_odds
    from core.classes.store import MAX_OPEN_CLASSES
    from core.runs import RunStore

    print(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    server = None
    for backend in args.backends:
        folder = Path(tempfile.mkdtemp(prefix="bench-classroom-"))
        url = None
        if backend == "postgresql":
            from testkit.postgres import PostgresServer

            server = server or PostgresServer.start()
            url = server.new_database("classroom")
            os.environ["MNIST_STUDIO_DATABASE_URL"] = url
        else:
            os.environ.pop("MNIST_STUDIO_DATABASE_URL", None)
        os.environ["MNIST_STUDIO_RUNS_DIR"] = str(folder)
        run_store = RunStore(folder, database_url=url)
        classes = ClassStore(run_store.database)
        info, secret, owners = fill(run_store, classes, args.students, args.runs)
        teacher = time_page({ui.TEACHER_PARAM: secret}, "teacher", args.repeats)
        student = time_page({}, owners[3], args.repeats)
        total = args.students * args.runs
        for view, figures in (("teacher", teacher), ("student", student)):
            print(
                f"{backend:10s} {args.students} students, {total} runs, {view:7s} view: "
                f"first {figures['first']:.3f} s, rerun median {figures['median']:.3f} s, "
                f"worst {figures['worst']:.3f} s ({args.repeats} reruns)"
            )
        run_store.database.dispose()
    if server is not None:
        server.stop()
    guesses = guesses_for_even_odds(MAX_OPEN_CLASSES)
    print(
        f"class codes: {code_space():,}; with {MAX_OPEN_CLASSES:,} open classes (the most a "
        f"store keeps), even odds of hitting one take {guesses:,.0f} random guesses"
    )
    print(f"load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
