"""What many visitors leave behind: threads after many quick jobs, CPU per new Evaluate session.

1. Threads: 300 quick jobs go through a `JobManager` with the demo's 900 s time limit; the
   script prints how many threads are left over once they are all done (each job used to
   leave a sleeping `threading.Timer` behind for 900 s).
2. Evaluate: 20 new sessions (AppTest, in this process) open the Evaluate page with the
   shipped default model, one after another; the script prints the CPU seconds (all
   threads of the process) and wall seconds of each new session's first run, medians over
   the sessions after the first, and how many figures each built.

Run: .venv/bin/python -m bench.bench_sessions
"""

from __future__ import annotations

import collections
import statistics
import threading
import time
from pathlib import Path

QUICK_JOBS = 300
SESSIONS = 20


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def threads_after_quick_jobs() -> int:
    """Threads left over after `QUICK_JOBS` quick jobs with a 900 s time limit."""
    from core.jobs.manager import JobManager

    baseline = threading.active_count()
    manager = JobManager(max_concurrent=2, max_job_seconds=900, keep_finished=QUICK_JOBS)
    jobs = [manager.submit(f"Quick {n}", lambda report, stop: None) for n in range(QUICK_JOBS)]
    for job in jobs:
        manager.wait(job.id, timeout=60)
    time.sleep(1.0)  # let finished threads end
    return threading.active_count() - baseline


def figure_builders() -> collections.Counter:
    """Count the calls of every figure builder of the Evaluate page."""
    import core.figures
    import core.figures.explore
    import core.figures.prediction

    counter: collections.Counter = collections.Counter()
    for module, names in (
        (core.figures, ("confusion_matrix_figure", "image_grid_figure",
                                   "weight_tiles_figure", "activation_strips_figure")),
        (core.figures.explore, ("pixel_heatmap",)),
        (core.figures.prediction, ("probability_bars",)),
    ):  # fmt: skip
        for name in names:
            original = getattr(module, name)

            def counted(*args, _original=original, _name=name, **kwargs):
                counter[_name] += 1
                return _original(*args, **kwargs)

            setattr(module, name, counted)
    return counter


def evaluate_sessions() -> list[tuple[float, float, int]]:
    """(CPU seconds, wall seconds, figures built) of each new session's Evaluate run."""
    from testkit.harness import app_test

    built = figure_builders()
    results = []
    for _ in range(SESSIONS):
        built.clear()
        app = app_test("app_pages/evaluate.py")
        cpu, wall = time.process_time(), time.perf_counter()
        app.run()
        results.append((time.process_time() - cpu, time.perf_counter() - wall, sum(built.values())))
        assert not app.exception, app.exception
    return results


def main() -> None:
    print(f"load before: {load_average()}")
    print(f"threads left after {QUICK_JOBS} quick jobs: {threads_after_quick_jobs()}")
    results = evaluate_sessions()
    first, later = results[0], results[1:]
    print(f"first session: {first[0]:.2f} s CPU, {first[1]:.2f} s wall, {first[2]} figures")
    print(
        f"each later session (median of {len(later)}): "
        f"{statistics.median(cpu for cpu, _, _ in later):.3f} s CPU, "
        f"{statistics.median(wall for _, wall, _ in later):.3f} s wall, "
        f"{statistics.median(count for _, _, count in later):.0f} figures built"
    )
    print(f"load after: {load_average()}")


if __name__ == "__main__":
    main()
