"""Threads against Ray: an 8-member sweep, early stopping, two nodes, and class queues.

Run: .venv/bin/python -m bench.bench_ray [--members 8] [--parts sweep,asha,nodes,class]

1. The same 8 sweep members through the job manager, once with the thread executor (2 at a
   time, the default) and once on a private local Ray: wall time and the server process's
   peak memory (each mode in a fresh process, so peaks do not mix).
1b. Early stopping (ASHA): 8 members whose learning rates span 1e-5 to 3e-2, with and
   without `core.jobs.sweeps`' successive halving, on threads and on local Ray: wall time, how
   many members stopped early, and the best member's test accuracy.
2. A cluster of two nodes on this machine (`ray start --head --num-cpus 1` and a second
   `ray start --address ... --num-cpus 1`) against the head alone: wall time, and on which
   node each member ran.
3. From the measured time of one Recommended training: the queue wait of a class of 30 and of
   100 visitors pressing Train at once, with 1, 4 and 16 worker nodes of 2 cores.
4. Start overhead: seconds from submitting a small training to its first progress, as a Ray
   task of the server (the result comes back to it) and as a task of the cluster's detached
   job dispatcher (the job outlives the server), alternating in one process on a private
   local Ray; median of a few each.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from testkit.harness import kill_ray_cluster

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RAY = str(Path(sys.executable).parent / "ray")

SWEEP = """
import json, os, resource, sys, time
from core.nn.config import TrainingConfig
from core.data.datasets import load_default_dataset
from core.jobs.executors import get_executor
from core.jobs.manager import JobManager
from core.runs import RunStore
from core.jobs.sweeps import stopped_early_reason, sweep_jobs
from core.jobs.tasks import make_training_job

members = int(sys.argv[1])
dataset = load_default_dataset()
store = RunStore(os.environ["MNIST_STUDIO_RUNS_DIR"])
executor = get_executor()
manager = JobManager(max_concurrent=int(os.environ.get("SLOTS", "2")))
executor.start(lambda cpus: manager.set_max_concurrent(max(1, cpus)))
if hasattr(executor, "connect"):
    executor.connect()
configs = [
    TrainingConfig(hidden_layers=(64,), epochs=3, train_size=12000, seed=seed)
    for seed in range(members)
]
if os.environ.get("PRESET"):
    from core.nn.presets import PRESETS
    configs = [PRESETS[os.environ["PRESET"]]] * members
if os.environ.get("SPREAD"):  # Learning rates from hopeless to good: what ASHA is for.
    rates = [1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2]
    configs = [TrainingConfig(hidden_layers=(64,), epochs=3, train_size=12000,
                              learning_rate=rates[i % len(rates)]) for i in range(members)]
started = time.perf_counter()
jobs = [manager.submit(name, job_function, "bench")
        for name, job_function in sweep_jobs(configs, dataset, store, "bench",
                                             early_stopping=bool(os.environ.get("EARLY")))]
for job in jobs:
    manager.wait(job.id, timeout=3600)
wall = time.perf_counter() - started
print("RESULT " + json.dumps({
    "wall": wall,
    "states": sorted({job.state for job in jobs}),
    "accuracy": [round(job.result.result.test_accuracy, 4) for job in jobs],
    "stopped_early": sum(stopped_early_reason(store, job.result.run_id) is not None
                         for job in jobs),
    "epochs": sum(job.result.result.epochs_trained for job in jobs),
    "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    # Progress events from a Ray worker carry its node's id (none on threads).
    "nodes": [job.progress.get("node", "")[:8] for job in jobs if job.progress.get("node")],
}))
"""


def run_sweep(members: int, environment: dict[str, str]) -> dict:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), **environment}
    env.setdefault("MNIST_STUDIO_RUNS_DIR", str(Path("/tmp") / f"bench-ray-{time.time_ns()}"))
    completed = subprocess.run(
        [sys.executable, "-c", SWEEP, str(members)],
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT_ROOT,
        timeout=3600,
    )
    for line in completed.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    raise RuntimeError(completed.stderr[-3000:])


def free_port() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return str(sock.getsockname()[1])


def ray_cluster(nodes: int, port: str) -> tuple[str, dict[str, str]]:
    """Start a head (and nodes - 1 more nodes) with 1 CPU each; return its address."""
    env = {**os.environ, "RAY_AUTH_MODE": "token"}
    head = [RAY, "start", "--head", "--node-ip-address", "127.0.0.1", "--port", port]
    subprocess.run(
        [*head, "--num-cpus", "1", "--include-dashboard=false", "--disable-usage-stats"],
        env=env,
        capture_output=True,
        check=True,
        timeout=300,
    )
    for _ in range(nodes - 1):
        subprocess.run(
            [RAY, "start", "--address", f"127.0.0.1:{port}", "--num-cpus", "1"],
            env=env,
            capture_output=True,
            check=True,
            timeout=300,
        )
    return f"127.0.0.1:{port}", {"RAY_AUTH_MODE": "token"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=8)
    parser.add_argument("--parts", default="sweep,asha,nodes,class,start")
    parser.add_argument("--starts", type=int, default=4, help="trainings per mode (start)")
    arguments = parser.parse_args()
    members = arguments.members
    parts = set(arguments.parts.split(","))
    print(f"load average at start: {os.getloadavg()[0]:.2f}; {os.cpu_count()} CPUs")
    if "sweep" in parts:
        bench_sweep(members)
    if "asha" in parts:
        bench_early_stopping(members)
    if "nodes" in parts:
        bench_nodes(members)
    if "class" in parts:
        bench_class()
    if "start" in parts:
        bench_start(arguments.starts)
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


def bench_sweep(members: int) -> None:
    print(f"\n1. A sweep of {members} members (784-64-10, 3 epochs, 12,000 images each)")
    threads = run_sweep(members, {"MNIST_STUDIO_RAY_ADDRESS": ""})
    local = run_sweep(members, {"MNIST_STUDIO_RAY_ADDRESS": "local"})
    print("| executor | wall time | server peak memory | states |")
    print("|---|---:|---:|---|")
    for label, figures in (("threads (2 at a time)", threads), ("Ray, local", local)):
        print(
            f"| {label} | {figures['wall']:.1f} s | {figures['peak_mb']:.0f} MB "
            f"| {', '.join(figures['states'])} |"
        )
    print(f"Ray / threads wall time: {local['wall'] / threads['wall']:.2f}")


def bench_early_stopping(members: int) -> None:
    print(f"\n1b. Early stopping: {members} members, learning rates 1e-5 to 3e-2, 3 epochs")
    print("| executor | early stopping | wall time | stopped early | epochs trained | best |")
    print("|---|---|---:|---:|---:|---:|")
    walls = {}
    for label, address in (("threads (2 at a time)", ""), ("Ray, local", "local")):
        for early in ("", "1"):
            environment = {"MNIST_STUDIO_RAY_ADDRESS": address, "SPREAD": "1", "EARLY": early}
            figures = run_sweep(members, environment)
            walls[label, early] = figures["wall"]
            print(
                f"| {label} | {'ASHA' if early else 'off'} | {figures['wall']:.1f} s "
                f"| {figures['stopped_early']} of {members} | {figures['epochs']:.1f} "
                f"| {max(figures['accuracy']):.2%} |"
            )
        print(f"{label}: with / without early stopping, wall time: "
              f"{walls[label, '1'] / walls[label, '']:.2f}")  # fmt: skip


def bench_nodes(members: int) -> None:
    print("\n2. Simulated cluster on this machine (1 CPU per node)")
    results = {}
    for nodes in (1, 2):
        port = free_port()
        address, extra = ray_cluster(nodes, port)
        try:
            results[nodes] = run_sweep(members, {"MNIST_STUDIO_RAY_ADDRESS": address, **extra})
        finally:
            kill_ray_cluster(port)
    for nodes, figures in results.items():
        placement: dict[str, int] = {}
        for node in figures["nodes"]:
            placement[node] = placement.get(node, 0) + 1
        print(f"{nodes} node(s): {figures['wall']:.1f} s; members per node: {placement}")
    print(f"two nodes / one node wall time: {results[2]['wall'] / results[1]['wall']:.2f}")


def bench_class() -> None:
    print("\n3. On paper: a class pressing Train on Recommended at once")
    recommended = run_sweep(1, {"MNIST_STUDIO_RAY_ADDRESS": "", "PRESET": "Recommended"})["wall"]
    print(f"one Recommended training alone, end to end here: {recommended:.1f} s")
    print("| visitors | 1 node | 4 nodes | 16 nodes | (worst wait, 2 jobs per node) |")
    print("|---:|---:|---:|---:|---|")
    for visitors in (30, 100):
        waits = [math.ceil(visitors / (2 * nodes) - 1) * recommended for nodes in (1, 4, 16)]
        print(f"| {visitors} | " + " | ".join(f"{wait / 60:.1f} min" for wait in waits) + " | |")


START = """
import json, os, statistics, sys, time
from core.data.datasets import load_default_dataset
from core.jobs.board import JobBoard
from core.jobs.executors import get_executor
from core.jobs.manager import JobManager
from core.jobs.tasks import make_training_job
from core.nn.config import TrainingConfig
from core.runs import RunStore

rounds = int(sys.argv[1])
dataset = load_default_dataset()
store = RunStore(os.environ["MNIST_STUDIO_RUNS_DIR"])
manager = JobManager(max_concurrent=1, board=JobBoard(store.database))
assert get_executor().connect()
config = TrainingConfig(hidden_layers=(32,), epochs=1, train_size=1000, seed=1)
seconds = {"task": [], "detached": []}
for round_ in range(rounds):
    for mode in ("task", "detached"):
        # An early-stopping rule (here one that never stops) keeps a job on the task path.
        rule = (lambda event: None) if mode == "task" else None
        started = time.perf_counter()
        job = manager.submit(mode, make_training_job(config, dataset, store, "bench",
                                                     early_stop=rule), "bench")
        while not job.progress and not job.done:
            time.sleep(0.005)
        seconds[mode].append(time.perf_counter() - started)
        manager.wait(job.id, timeout=600)
        assert job.state == "finished", job.error
print("RESULT " + json.dumps({mode: values for mode, values in seconds.items()}))
"""


def bench_start(rounds: int) -> None:
    print(f"\n4. Submit to first progress, {rounds} small trainings per mode, alternating")
    env = {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT),
        "MNIST_STUDIO_RAY_ADDRESS": "local",
        "MNIST_STUDIO_RUNS_DIR": str(Path("/tmp") / f"bench-ray-start-{time.time_ns()}"),
    }
    completed = subprocess.run(
        [sys.executable, "-c", START, str(rounds)],
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT_ROOT,
        timeout=3600,
    )
    line = next((x for x in completed.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(completed.stderr[-3000:])
    seconds = json.loads(line[len("RESULT ") :])
    print("| job on Ray | median | all (s) |")
    print("|---|---:|---|")
    for mode, label in (("task", "a task (result back to the server)"),
                        ("detached", "a job dispatcher's task (outlives the server)")):  # fmt: skip
        values = seconds[mode]
        print(f"| {label} | {statistics.median(values):.2f} s "
              f"| {', '.join(f'{value:.2f}' for value in values)} |")  # fmt: skip


if __name__ == "__main__":
    main()
