"""A job on a Ray cluster outlives the app process that submitted it.

A Ray head of its own (`ray start --head`, which a dying driver does not take down), a
PostgreSQL store, and an app process played by a driver subprocess: it submits a small
training through a `JobManager` on the `RayExecutor` and reports the job's first progress.
The test then acts as another app process on the same database.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from core.jobs.board import JobBoard
from core.runs import RunStore
from core.runs.current_models import CurrentModelStore
from core.runs.heartbeats import ProcessHeartbeat
from testkit.harness import free_port, kill_ray_cluster
from testkit.jobs import wait_until

PROJECT_ROOT = Path(__file__).resolve().parents[4]

# The app process: submit a training for argv[2], print its job id at its first progress,
# then (argv[4] == "wait") wait for it and print how it ended, or sleep until killed.
DRIVER = """
import sys, time
from core.data.datasets import load_default_dataset
from core.jobs.board import JobBoard
from core.jobs.manager import JobManager
from core.jobs.tasks import make_training_job
from core.nn.config import TrainingConfig
from core.runs import RunStore

folder, owner, epochs, then, database_url = sys.argv[1:6]
store = RunStore(folder, database_url=database_url)
manager = JobManager(max_concurrent=1, board=JobBoard(store.database))
config = TrainingConfig(hidden_layers=(32,), epochs=int(epochs), train_size=3000, seed=2)
work = make_training_job(config, load_default_dataset(), store, owner)
job = manager.submit("small", work, owner)
deadline = time.monotonic() + 400
while not job.progress.get("batch_points") and time.monotonic() < deadline:
    time.sleep(0.02)
print("JOB", job.id, job.state, flush=True)
if then == "wait":
    manager.wait(job.id, timeout=400)
    print("ENDED", job.state, job.result.run_id if job.result else None, job.error, flush=True)
else:
    time.sleep(600)
"""


@pytest.fixture(scope="module")
def ray_head(tmp_path_factory):
    """A one-node Ray cluster of its own (two CPUs); yields its address."""
    pytest.importorskip("ray", reason="requirements-ray.txt is not installed")
    port = free_port()
    environment = {**os.environ, "RAY_AUTH_MODE": "token"}
    command = [str(Path(sys.executable).parent / "ray"), "start", "--head"]
    command += ["--node-ip-address", "127.0.0.1", "--port", str(port), "--num-cpus", "2"]
    command += ["--include-dashboard=false", "--disable-usage-stats"]
    try:
        subprocess.run(command, env=environment, capture_output=True, timeout=180, check=True)
        yield f"127.0.0.1:{port}"
    finally:
        kill_ray_cluster(str(port))


def start_driver(
    ray_head: str, folder: Path, database_url: str, owner: str, epochs: int, then: str
) -> tuple[subprocess.Popen, str]:
    """Start the app process; return it and its job's id once the job reported progress."""
    environment = {
        **os.environ,
        "RAY_AUTH_MODE": "token",
        "MNIST_STUDIO_RAY_ADDRESS": ray_head,
        "MNIST_STUDIO_RUNS_DIR": str(folder),
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    arguments = [str(folder), owner, str(epochs), then, database_url]
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER, *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=environment,
        cwd=PROJECT_ROOT,
    )
    line = driver.stdout.readline() if driver.stdout else ""
    if not line.startswith("JOB "):
        driver.kill()
        pytest.fail(f"the app process did not report its job: {line!r}")
    _, job_id, state = line.split()
    assert state == "running"
    return driver, job_id


def another_app_process(folder: Path, database_url: str) -> tuple[RunStore, JobBoard]:
    """A store and a jobs board as a second app process on the same database sees them."""
    store = RunStore(folder, database_url=database_url)
    return store, JobBoard(store.database, heartbeat=ProcessHeartbeat(store.database))


def row_of(board: JobBoard, owner: str, job_id: str):
    return next(job for job in board.jobs(owner) if job.id == job_id)


def detached_jobs_running() -> bool:
    """True while a worker on this machine runs a detached job's task."""
    for entry in Path("/proc").iterdir():
        try:
            if not entry.name.isdigit():
                continue
            if b"ray::run_detached_job" in (entry / "cmdline").read_bytes():
                return True
        except OSError:
            continue
    return False


def test_a_job_outlives_the_killed_app_process_and_another_shows_its_run(
    ray_head, postgres_server, tmp_path
):
    database_url = postgres_server.new_database()
    driver, job_id = start_driver(
        ray_head, tmp_path / "app-a", database_url, "visitor-a", 3, "sleep"
    )
    driver.send_signal(signal.SIGKILL)
    driver.wait(30)
    store, board = another_app_process(tmp_path / "app-b", database_url)
    # The job ran on: its own worker, not the dead app process, owns its row.
    wait_until(lambda: row_of(board, "visitor-a", job_id).state == "finished", timeout=300)
    row = row_of(board, "visitor-a", job_id)
    assert row.message is None
    runs = store.list_runs(owner="visitor-a")
    assert list(runs["status"]) == ["finished"]
    run_id = runs["id"].iloc[0]
    assert row.progress["run_id"] == run_id
    assert store.get_run(run_id).epochs == 3
    assert store.load_model(run_id).count_params() == store.get_run(run_id).parameters
    # The job made the run visitor-a's current model, as the Train page does.
    current = CurrentModelStore(store.database).get("visitor-a")
    assert current is not None and current.run_id == run_id
    # Exactly one record: the run in progress ended with its save, nothing is "interrupted".
    assert store.runs_in_progress() == []
    assert store.recover_interrupted() == []
    assert len(store.list_runs(owner="visitor-a")) == 1
    # Its task ended with it (the worker stays, idle and warm, for the next job).
    wait_until(lambda: not detached_jobs_running(), timeout=60)


def test_stop_from_another_process_stops_the_detached_job_and_stores_it_once(
    ray_head, postgres_server, tmp_path
):
    database_url = postgres_server.new_database()
    driver, job_id = start_driver(
        ray_head, tmp_path / "app-a", database_url, "visitor-b", 50, "wait"
    )
    try:
        store, board = another_app_process(tmp_path / "app-b", database_url)
        assert row_of(board, "visitor-b", job_id).state == "running"
        assert board.request_stop(job_id, "visitor-b")
        ended, _ = driver.communicate(timeout=300)
    finally:
        driver.kill()
    state, run_id, error = ended.split("ENDED ", 1)[1].split(maxsplit=2)
    assert (state, error.strip()) == ("stopped", "None"), ended
    row = row_of(board, "visitor-b", job_id)
    assert row.state == "stopped" and row.progress["run_id"] == run_id
    # Stored once, by the job, as a stopped run; the app process that waited saved nothing.
    runs = store.list_runs(owner="visitor-b")
    assert list(runs["id"]) == [run_id]
    run = store.get_run(run_id)
    assert run.status == "stopped" and 0 <= run.epochs < 50
    assert store.recover_interrupted() == []
    wait_until(lambda: not detached_jobs_running(), timeout=60)
