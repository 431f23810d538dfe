"""Server CPU for a class drawing at once on the Draw page, this checkout against a peer.

Starts `streamlit run streamlit_app.py` on this checkout and on `--peer` (another checkout,
e.g. the code before issue 25, with `--peer-python`, its own venv), then, alternating between
the servers `--rounds` times so both see the same machine load: `--learners` simulated
learners (WebSocket level, testkit.learner_session) open the Draw page, wait for each other,
then each sends `--drawings` drawings of an MNIST test digit as the page's canvas sends them at
the end of a stroke, with Clear before each but the first. Both canvases send the drawing
only when a stroke ends, so this is the server's whole per-drawing work in both versions:
the in-page network of issue 25 takes no server work away from this path. The new component
sends {"drawing": {"png", "serial", "strokes"}} for widget "draw_pad" and Clear as
{"drawing": null}; the old streamlit-drawable-canvas one sent {"drawing": {"raw", "data"}} for
widget "draw_canvas_<n>" and Clear was the "draw_clear" button (as testkit/class_load.py at
b3ba464). Measured: the server process's CPU seconds (utime + stime of /proc/<pid>/stat,
all threads) from the first drawing sent to the last answered, and the wall time. One warm-up
learner draws twice first on each server (models loaded, caches built). Usage:
    .venv/bin/python -m bench.bench_draw_class_cpu --peer /tmp/draw-before \\
        --peer-python /tmp/draw-before/.venv/bin/python [--learners 30] [--drawings 10]
"""

# ruff: noqa: E501  (long f-strings of the printed figures)
from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from bench.bench_draw_latency import start_peer
from testkit.class_load import digit_drawing, test_digits
from testkit.harness import start_streamlit, stop_streamlit
from testkit.learner_session import LearnerSession

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def old_drawing(pixels: np.ndarray) -> str:
    """The streamlit-drawable-canvas widget value (testkit/class_load.py at b3ba464)."""
    ink = np.asarray(Image.fromarray(pixels).resize((280, 280), Image.BILINEAR))
    rgba = np.zeros((280, 280, 4), dtype=np.uint8)
    rgba[..., :3] = 255
    rgba[..., 3] = ink
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, format="PNG")
    rows, columns = np.nonzero(ink > 128)
    path = [["M", float(columns[0]), float(rows[0])]] if len(rows) else []
    path += [["L", float(x), float(y)] for y, x in zip(rows[::40], columns[::40], strict=True)]
    drawing = {
        "version": "7.4.0",
        "objects": [{"type": "Path", "stroke": "#FFFFFF", "strokeWidth": 18, "path": path}],
        "background": "#000000",
    }
    data_url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    return json.dumps({"drawing": {"raw": drawing, "data": data_url}})


async def draw(session: LearnerSession, digit: np.ndarray, number: int, old: bool) -> bool:
    """Clear (unless first), then send one drawing; True if a verdict showed (the "Why this
    digit?" toggle under it: the new page draws no server bars when the page has the model)."""
    if old:
        if number:
            await session.press("draw_clear")
        canvas = max((k for k in session.widgets if k.startswith("draw_canvas_")),
                     key=lambda k: int(k.removeprefix("draw_canvas_")))  # fmt: skip
        session.widgets.pop("draw_explain", None)
        await session.set_widget(canvas, json_value=old_drawing(digit))
    else:
        if number:
            await session.set_widget("draw_pad", json_value=json.dumps({"drawing": None}))
        session.widgets.pop("draw_explain", None)
        await session.set_widget("draw_pad", json_value=digit_drawing(digit, number + 1))
    return "draw_explain" in session.widgets


async def a_class(base_url: str, pid: int, learners: int, drawings: int, old: bool) -> dict:
    digits = test_digits(learners)
    sessions = [LearnerSession(base_url) for _ in range(learners)]
    await asyncio.gather(*(s.open() for s in sessions))
    await asyncio.gather(*(s.goto("draw") for s in sessions))
    await asyncio.sleep(2)
    cpu0, wall0 = cpu_seconds(pid), time.monotonic()
    load0 = os.getloadavg()

    async def one(session, digit):
        shown = 0
        for number in range(drawings):
            shown += await draw(session, digit, number, old)
        return shown

    shown = await asyncio.gather(*(one(s, d) for s, d in zip(sessions, digits, strict=True)))
    cpu1, wall1 = cpu_seconds(pid), time.monotonic()
    errors = sorted({e for s in sessions for e in s.errors})
    await asyncio.gather(*(s.close() for s in sessions))
    return {"cpu": cpu1 - cpu0, "wall": wall1 - wall0, "shown": sum(shown),
            "load": (load0, os.getloadavg()), "errors": errors}  # fmt: skip


async def warm(base_url: str, old: bool) -> None:
    session = LearnerSession(base_url)
    await session.open()
    await session.goto("draw")
    for number, digit in enumerate(test_digits(2)):
        await draw(session, digit, number, old)
    await session.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer", type=Path, required=True)
    parser.add_argument("--peer-python", type=Path)
    parser.add_argument("--learners", type=int, default=30)
    parser.add_argument("--drawings", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    arguments = parser.parse_args()
    servers = []
    results: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as folder:
        try:
            process, base_url, _ = start_streamlit(Path(folder))
            servers.append(("this checkout", process, base_url, False))
            process, base_url = start_peer(arguments.peer.resolve(), Path(folder),
                                           arguments.peer_python)  # fmt: skip
            servers.append((f"peer {arguments.peer}", process, base_url, True))
            for name, _, base_url, old in servers:
                asyncio.run(warm(base_url, old))
                results[name] = []
            for _ in range(arguments.rounds):
                for name, process, base_url, old in servers:
                    result = asyncio.run(a_class(base_url, process.pid, arguments.learners,
                                                 arguments.drawings, old))  # fmt: skip
                    results[name].append(result)
                    total = arguments.learners * arguments.drawings
                    print(f"{name}: {arguments.learners} learners x {arguments.drawings} drawings: "
                          f"server CPU {result['cpu']:.1f} s ({1000 * result['cpu'] / total:.0f} ms "
                          f"per drawing incl. its Clear), wall {result['wall']:.1f} s, predictions "
                          f"shown {result['shown']}/{total}, load {result['load'][0]} -> "
                          f"{result['load'][1]}, errors {result['errors'][:3]}", flush=True)  # fmt: skip
        finally:
            for _, process, _, _ in servers:
                stop_streamlit(process)
    for name, measured in results.items():
        cpu = [r["cpu"] for r in measured]
        print(f"{name}: server CPU per class median {statistics.median(cpu):.1f} s over "
              f"{len(cpu)} rounds")  # fmt: skip


if __name__ == "__main__":
    main()
