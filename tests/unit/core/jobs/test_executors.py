"""The job manager's jobs behave the same on both executors: threads here, or a Ray cluster.

Each test runs once with the thread executor and once with a private local Ray (started
once for the module, two CPUs, no dashboard). Trainings use 1,500 images and one or two
epochs, so a Ray run costs mostly its worker's TensorFlow import.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from core.jobs import executors
from core.jobs.manager import JobManager
from core.nn.config import TrainingConfig
from core.runs import RunStore
from testkit.harness import kill_ray_cluster
from testkit.jobs import wait_until

PROJECT_ROOT = Path(__file__).resolve().parents[4]
SMALL = TrainingConfig(hidden_layers=(32,), epochs=2, train_size=1500, seed=3)


@pytest.fixture(scope="module")
def ray_executor():
    pytest.importorskip("ray", reason="requirements-ray.txt is not installed")
    import ray

    executor = executors.RayExecutor("local", num_cpus=2)
    assert executor.connect(), executor.status_message()
    yield executor
    ray.shutdown()


@pytest.fixture(params=["threads", "ray"])
def executor(request, monkeypatch):
    """Make `core.jobs.executors.get_executor()` return the executor under test."""
    if request.param == "threads":
        chosen = executors.ThreadExecutor()
    else:
        chosen = request.getfixturevalue("ray_executor")
        monkeypatch.setenv("MNIST_STUDIO_RAY_ADDRESS", "local")
    monkeypatch.setattr(executors, "_executor", chosen)
    assert executors.get_executor() is chosen
    return chosen


@pytest.fixture
def store(isolated_run_store):
    return RunStore(isolated_run_store)


@pytest.fixture
def manager():
    job_manager = JobManager(max_concurrent=2)
    yield job_manager
    job_manager.shutdown(wait=True, timeout=60)


def test_a_training_job_streams_progress_and_stores_its_run(executor, mnist, store, manager):
    from core.jobs.tasks import make_training_job

    job = manager.submit("small", make_training_job(SMALL, mnist, store, "alice"), "alice")
    manager.wait(job.id, timeout=300)
    assert job.state == "finished", job.error
    epochs = [entry["epoch"] for entry in job.history if entry.get("kind") == "epoch"]
    assert epochs == [1, 2]
    assert job.progress["kind"] == "done"
    assert job.progress["batch_points"], "per-batch points reached the page"
    result = job.result.result
    assert result.history["loss"][1] < result.history["loss"][0]
    assert result.test_accuracy > 0.6
    # The run store on the server holds the run, with a model that loads and predicts.
    run = store.get_run(job.result.run_id)
    assert run.owner == "alice"
    assert run.test_accuracy == pytest.approx(result.test_accuracy)
    model = store.load_model(run.id)
    probabilities = model.predict(mnist.test_images[:5], verbose=0)
    assert probabilities.shape == (5, 10)


def test_the_same_seed_gives_the_same_history_on_either_executor(executor, mnist):
    from core.nn.training import train_model

    here = train_model(SMALL, mnist)
    there = executor.train(SMALL, mnist)
    assert there.history == here.history
    assert there.test_accuracy == here.test_accuracy


def test_stop_ends_the_job_within_a_second_and_keeps_the_model(executor, mnist, store, manager):
    from core.jobs.tasks import make_training_job

    config = TrainingConfig(hidden_layers=(64,), epochs=50, train_size=6000, seed=1)
    job = manager.submit("long", make_training_job(config, mnist, store, "bob"), "bob")
    deadline = time.monotonic() + 300
    while not job.history and time.monotonic() < deadline:  # Wait for a first epoch.
        time.sleep(0.05)
    assert job.history, "no epoch finished in time"
    job.stop()
    stop_pressed = time.monotonic()
    while job.progress.get("kind") not in {"evaluating", "done"} and not job.done:
        time.sleep(0.02)
    training_ended_after = time.monotonic() - stop_pressed
    manager.wait(job.id, timeout=120)
    assert job.state == "stopped", job.error
    result = job.result.result
    assert result.stopped and 1 <= result.epochs_trained < 50
    assert store.get_run(job.result.run_id).test_accuracy == pytest.approx(result.test_accuracy)
    # A loose bound (the figure is in bench/README.md): training must not run on for epochs.
    assert training_ended_after < 30


def test_two_jobs_run_at_once_and_a_third_waits(executor, mnist, store, manager):
    from core.jobs.tasks import make_training_job

    configs = [
        SMALL,
        TrainingConfig(hidden_layers=(16,), epochs=1, train_size=1500, seed=4),
        TrainingConfig(hidden_layers=(8,), epochs=1, train_size=1500, seed=5),
    ]
    jobs = [
        manager.submit(
            config.summary(10), make_training_job(config, mnist, store, "carol"), "carol"
        )
        for config in configs
    ]
    assert [job.state for job in jobs] == ["running", "running", "queued"]
    for job in jobs:
        manager.wait(job.id, timeout=300)
    assert [job.state for job in jobs] == ["finished"] * 3
    assert len({job.result.run_id for job in jobs}) == 3


def test_a_baseline_job_runs_and_is_stored(executor, mnist, store, manager):
    from core.jobs.tasks import make_baseline_job

    config = TrainingConfig(train_size=1000, seed=2)
    job = manager.submit(
        "Gaussian naive Bayes",
        make_baseline_job("Gaussian naive Bayes", config, mnist, store, "dan"),
        "dan",
    )
    manager.wait(job.id, timeout=300)
    assert job.state == "finished", job.error
    assert 0.3 < job.result.result.test_accuracy < 1.0
    assert store.get_run(job.result.run_id).kind == "baseline"


def test_a_bad_configuration_fails_the_job_with_its_own_message(executor, mnist, store, manager):
    from core.jobs.tasks import make_training_job

    too_many = TrainingConfig(hidden_layers=(8,), epochs=1, train_size=59_999, seed=1)
    job = manager.submit("too many", make_training_job(too_many, mnist, store, "eve"), "eve")
    manager.wait(job.id, timeout=300)
    assert job.state == "failed"
    assert "training" in job.error.lower() and "Traceback" not in job.error


def test_an_early_stopping_sweep_stops_the_hopeless_member(executor, mnist, store):
    """Successive halving judges each member after its first epoch, wherever it trains."""
    from core.jobs.sweeps import stopped_early_reason, sweep_jobs

    good = dataclasses.replace(SMALL, learning_rate=0.003, train_size=600)
    hopeless = dataclasses.replace(good, learning_rate=1e-6, epochs=5)
    # One at a time, so the hopeless member meets both others' figures at the first rung.
    members = [good, dataclasses.replace(good, epochs=1, seed=4), hopeless]
    manager = JobManager(max_concurrent=1)
    try:
        jobs = [
            manager.submit(name, job_function, "alice", kind="sweep")
            for name, job_function in sweep_jobs(members, mnist, store, "alice", True, None)
        ]
        for job in jobs:
            manager.wait(job.id, timeout=300)
    finally:
        manager.shutdown(wait=True, timeout=60)
    first, _, last = jobs
    assert first.state == "finished", first.error
    assert stopped_early_reason(store, first.result.run_id) is None
    assert last.state == "stopped", last.error
    run = store.get_run(last.result.run_id)
    # Stopped after its first epoch (on Ray, the stop may land a little into the second).
    assert run.status == "stopped" and 1 <= run.epochs < 5
    figure = run.history["val_accuracy"][0]
    assert figure < 0.5
    assert stopped_early_reason(store, run.id).startswith(
        f"Stopped early after 1 epoch: validation accuracy {figure:.1%} was below the best 1/3"
    )
    # Its partly trained model is stored with it.
    assert store.load_model(run.id).count_params() == run.parameters


def _ray_worker_pids() -> list[int]:
    """Return the pids of processes running a job on Ray right now (a task or a job's actor)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if b"ray::run_on_worker" in command or b"ray::run_detached_job" in command:
            pids.append(int(entry.name))
    return pids


def test_a_killed_ray_worker_fails_the_run_with_a_clear_message(ray_executor, mnist, store):
    from core.jobs.tasks import make_training_job

    os.environ["MNIST_STUDIO_RAY_ADDRESS"] = "local"
    executors._executor = ray_executor
    manager = JobManager(max_concurrent=1)
    try:
        config = TrainingConfig(hidden_layers=(64,), epochs=50, train_size=6000, seed=1)
        job = manager.submit("doomed", make_training_job(config, mnist, store, "fay"), "fay")
        deadline = time.monotonic() + 300
        while not job.history and time.monotonic() < deadline:
            time.sleep(0.05)
        pids = _ray_worker_pids()
        assert pids, "the training runs in a Ray worker process"
        for pid in pids:
            os.kill(pid, 9)
        manager.wait(job.id, timeout=120)
        assert job.state == "failed"
        assert "Ray worker" in job.error and "died" in job.error
        # The run in progress belonged to the dead worker: it is kept once, as interrupted.
        wait_until(lambda: store.recover_interrupted() or not store.list_runs(owner="fay").empty)
        assert list(store.list_runs(owner="fay")["status"]) == ["interrupted"]
        assert store.recover_interrupted() == []
        # The cluster itself is fine: the next job runs there again.
        again = TrainingConfig(hidden_layers=(8,), epochs=1, train_size=1000, seed=1)
        retry = manager.submit("retry", make_training_job(again, mnist, store, "fay"), "fay")
        manager.wait(retry.id, timeout=300)
        assert retry.state == "finished", retry.error
    finally:
        manager.shutdown(wait=True, timeout=60)
        os.environ.pop("MNIST_STUDIO_RAY_ADDRESS", None)
        executors._executor = None


FALLBACK_SCRIPT = """
import threading
from core.nn.config import TrainingConfig
from core.data.datasets import load_default_dataset
from core.jobs.executors import get_executor

executor = get_executor()
result = executor.train(TrainingConfig(hidden_layers=(8,), epochs=1, train_size=1000),
                        load_default_dataset(), None, threading.Event())
print("EXECUTOR", type(executor).__name__)
print("ACCURACY", result.test_accuracy)
print("STATUS", executor.status_message())
"""


def test_an_unreachable_cluster_falls_back_to_threads_and_says_so(tmp_path):
    pytest.importorskip("ray", reason="requirements-ray.txt is not installed")
    # Run in a process of its own: Ray allows one connection per process, and the module's
    # local Ray must not be disturbed. Nothing listens on the address given.
    environment = {
        **os.environ,
        "MNIST_STUDIO_RAY_ADDRESS": "127.0.0.1:9",
        "MNIST_STUDIO_RUNS_DIR": str(tmp_path),
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    completed = subprocess.run(
        [sys.executable, "-c", FALLBACK_SCRIPT],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
        cwd=PROJECT_ROOT,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    lines = dict(line.split(" ", 1) for line in completed.stdout.splitlines() if " " in line)
    assert lines["EXECUTOR"] == "RayExecutor"
    assert float(lines["ACCURACY"]) > 0.3
    assert "cannot be reached" in lines["STATUS"] and "this server" in lines["STATUS"]


def test_without_a_ray_address_jobs_run_on_threads(monkeypatch):
    monkeypatch.delenv("MNIST_STUDIO_RAY_ADDRESS", raising=False)
    monkeypatch.setattr(executors, "_executor", None)
    executor = executors.get_executor()
    assert isinstance(executor, executors.ThreadExecutor)
    assert executor.status_message() is None
    reported = []
    executor.start(reported.append)
    assert reported == []  # No cluster: the app's own cap stays.


GOING_AWAY_SCRIPT = """
import os, subprocess, sys, time
from core.nn.config import TrainingConfig
from core.data.datasets import load_default_dataset
from core.jobs.executors import get_executor
from core.jobs.manager import JobManager
from core.runs import RunStore
from core.jobs.tasks import make_training_job

dataset = load_default_dataset()
store = RunStore(os.environ["MNIST_STUDIO_RUNS_DIR"])
manager = JobManager(max_concurrent=1)
long_config = TrainingConfig(hidden_layers=(64,), epochs=50, train_size=6000, seed=1)
job = manager.submit("long", make_training_job(long_config, dataset, store, "gus"), "gus")
deadline = time.monotonic() + 300
while not job.history and time.monotonic() < deadline:
    time.sleep(0.05)
print("EPOCH_SEEN", bool(job.history), flush=True)
from testkit.harness import kill_ray_cluster
from testkit.jobs import wait_until

kill_ray_cluster(os.environ["MNIST_STUDIO_RAY_ADDRESS"].rsplit(":", 1)[1])
manager.wait(job.id, timeout=200)
print("FIRST", job.state, job.error, flush=True)
small = TrainingConfig(hidden_layers=(8,), epochs=1, train_size=1000, seed=1)
second = manager.submit("small", make_training_job(small, dataset, store, "gus"), "gus")
manager.wait(second.id, timeout=300)
print("SECOND", second.state, second.error, flush=True)
print("STATUS", get_executor().status_message(), flush=True)
# The first run belonged to a worker of the cluster: it is kept once, as interrupted.
deadline = time.monotonic() + 120
while len(store.list_runs(owner="gus")) < 2 and time.monotonic() < deadline:
    store.recover_interrupted()
    time.sleep(0.2)
print("STORED", *sorted(store.list_runs(owner="gus")["status"]), flush=True)
"""


def test_a_cluster_that_goes_away_fails_its_job_and_new_jobs_run_here(tmp_path):
    pytest.importorskip("ray", reason="requirements-ray.txt is not installed")
    ray_command = str(Path(sys.executable).parent / "ray")
    port = _free_port()
    environment = {
        **os.environ,
        "RAY_AUTH_MODE": "token",
        "MNIST_STUDIO_RAY_ADDRESS": f"127.0.0.1:{port}",
        "MNIST_STUDIO_RUNS_DIR": str(tmp_path),
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    start = [ray_command, "start", "--head", "--node-ip-address", "127.0.0.1"]
    start += ["--port", str(port), "--num-cpus", "1", "--include-dashboard=false"]
    start += ["--disable-usage-stats"]
    subprocess.run(start, env=environment, capture_output=True, timeout=180, check=True)
    try:
        completed = subprocess.run(
            [sys.executable, "-c", GOING_AWAY_SCRIPT, ray_command],
            capture_output=True,
            text=True,
            env=environment,
            timeout=600,
            cwd=PROJECT_ROOT,
        )
    finally:
        kill_ray_cluster(str(port))
    assert completed.returncode == 0, completed.stderr[-2000:]
    lines = dict(line.split(" ", 1) for line in completed.stdout.splitlines() if " " in line)
    assert lines["EPOCH_SEEN"] == "True"
    # Depending on which part of the cluster goes first, the job hears that the cluster or
    # its node went away; either way it failed, with a sentence.
    assert lines["FIRST"].startswith("failed The Ray"), lines["FIRST"]
    assert "went away" in lines["FIRST"] or "died" in lines["FIRST"]
    assert lines["SECOND"] == "finished None"
    assert "new jobs run on this server" in lines["STATUS"], lines["STATUS"]
    assert lines["STORED"] == "finished interrupted"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_larger_cap_starts_queued_jobs_at_once():
    gate = threading.Event()

    def wait_for_gate(report, stop_event):
        gate.wait(10)
        return "done"

    manager = JobManager(max_concurrent=1)
    try:
        jobs = [manager.submit(f"job {number}", wait_for_gate) for number in range(3)]
        assert [job.state for job in jobs] == ["running", "queued", "queued"]
        manager.set_max_concurrent(3)
        assert [job.state for job in jobs] == ["running"] * 3
    finally:
        gate.set()
        manager.shutdown(wait=True, timeout=10)
