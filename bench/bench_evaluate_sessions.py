"""Many sessions opening Evaluate at once on a running demo server: its CPU, memory and health.

The review opened Evaluate in 100 sessions and saw the health check take 9.6 s. This script
starts `streamlit run streamlit_app.py` with the demo profile, opens one session that runs
Evaluate to the end (so TensorFlow, the data and the default model are loaded), then opens
`SESSIONS` more at once, each a raw WebSocket client speaking Streamlit's protocol (a
`BackMsg` asking for a run of the Evaluate page, then waiting for `script_finished`). It
prints the server's CPU seconds per session, its resident memory before, at the end and
30 s after the sessions closed, and the health check's latency meanwhile (every 0.2 s).
Sessions come from 127.0.0.1, so the per-address bound (`max_sessions_per_address`) does
not apply here: this measures what each session costs.

Run: .venv/bin/python -m bench.bench_evaluate_sessions [--sessions 100]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.asyncio.client import connect

from testkit.harness import (
    HealthPoller,
    cpu_seconds,
    process_tree,
    start_streamlit,
    stop_streamlit,
)

SESSION_TIMEOUT = 600
AFTER_CLOSE_SECONDS = 30


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def rss_mib(pid: int) -> float:
    total = 0
    for member in process_tree(pid):
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


async def open_evaluate(base_url: str, opened: list, done: asyncio.Event) -> float:
    """Open a session, run the Evaluate page to its end; keep it open until `done`."""
    url = base_url.replace("http", "ws", 1) + "/_stcore/stream"
    started = time.perf_counter()
    async with connect(url, subprotocols=["streamlit"], max_size=None) as socket_client:
        request = BackMsg()
        request.rerun_script.page_name = "evaluate"
        request.rerun_script.query_string = ""
        await socket_client.send(request.SerializeToString())
        while True:
            message = ForwardMsg()
            message.ParseFromString(await socket_client.recv())
            if message.WhichOneof("type") == "script_finished":
                break
        seconds = time.perf_counter() - started
        opened.append(seconds)
        await done.wait()
    return seconds


async def many_sessions(base_url: str, count: int) -> list[float]:
    opened: list[float] = []
    done = asyncio.Event()
    tasks = [asyncio.create_task(open_evaluate(base_url, opened, done)) for _ in range(count)]
    deadline = time.monotonic() + SESSION_TIMEOUT
    while len(opened) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    done.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    return opened


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=100)
    arguments = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="evaluate-sessions-"))
    process, base_url, _ = start_streamlit(folder, {"MNIST_STUDIO_DEMO_MODE": "1"})
    try:
        asyncio.run(many_sessions(base_url, 1))  # warm: TensorFlow, data, default model
        print(f"load before: {load_average()}")
        rss_before, cpu_before = rss_mib(process.pid), cpu_seconds(process.pid)
        poller = HealthPoller(base_url, interval=0.2)
        poller.start()
        started = time.perf_counter()
        opened = asyncio.run(many_sessions(base_url, arguments.sessions))
        wall = time.perf_counter() - started
        poller.stop()
        cpu = cpu_seconds(process.pid) - cpu_before
        rss_end = rss_mib(process.pid)
        time.sleep(AFTER_CLOSE_SECONDS)
        rss_after = rss_mib(process.pid)
        latencies = sorted(poller.latencies)
        print(
            f"{len(opened)} of {arguments.sessions} sessions ran Evaluate in {wall:.1f} s "
            f"(each {statistics.median(opened):.1f} s median, {max(opened):.1f} s at most)"
        )
        print(f"server CPU: {cpu:.1f} s in all, {cpu / max(len(opened), 1):.3f} s per session")
        print(
            f"server RSS: {rss_before:.0f} MiB before, {rss_end:.0f} MiB with the sessions open, "
            f"{rss_after:.0f} MiB {AFTER_CLOSE_SECONDS} s after they closed"
        )
        print(
            f"health: median {statistics.median(latencies) * 1e3:.0f} ms, worst "
            f"{latencies[-1] * 1e3:.0f} ms, {poller.failures} failures, {len(latencies)} answers"
        )
        print(f"load after: {load_average()}")
    finally:
        stop_streamlit(process)


if __name__ == "__main__":
    main()
