"""A class at once: simulated learners, each a fresh visitor, following one class script.

Each learner opens the link, browses Explore (a page change and a widget change), picks a
preset on Train (or opens a training's link), presses Train, watches its progress to the
end (the page's fragments rerun on their own timers, as in a browser), opens Evaluate and
draws a few digits on Draw (the canvas's own widget value: a PNG of a test digit). All
learners share one asyncio loop (`testkit.learner_session`), so one 2-core machine plays a
hundred. Bounded: at most `MAX_LEARNERS`, at most `MAX_DURATION_SECONDS` (every learner
stops at the deadline), and loopback servers only. Used by `bench/bench_class.py` and its
smoke test.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import ipaddress
import json
import socket
import statistics
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlparse

import numpy as np
from PIL import Image

from core.nn.config import TrainingConfig
from core.nn.presets import preset_of
from testkit.harness import run_coroutine
from testkit.learner_session import LearnerSession

MAX_LEARNERS = 200
MAX_DURATION_SECONDS = 3600
TRAINING_FINISHED = "Training finished."
CANVAS = "draw_pad"
CANVAS_SIZE = 280
# The Draw page's chart of a prediction's probabilities: drawn once a drawing is predicted.
# Shown with every prediction (the page's "Why this digit?" toggle).
PREDICTION_CHART = "draw_explain"


@dataclass(frozen=True)
class ClassScript:
    """What each learner does.

    Attributes:
        training: The training each learner runs: a preset is picked in the preset box,
            anything else is opened as the Train page's link.
        digits: Digits each learner draws on the Draw page (Clear between two).
        think_seconds: A learner's pause between two actions (timers keep running).
    """

    training: TrainingConfig
    digits: int = 3
    think_seconds: float = 1.0


@dataclass
class LearnerResult:
    """What one learner saw. Seconds are wall-clock, measured at the learner's end."""

    index: int
    base_url: str
    visitor_id: str | None = None
    page_seconds: list[float] = field(default_factory=list)
    widget_seconds: list[float] = field(default_factory=list)
    watch_seconds: list[float] = field(default_factory=list)
    watch_behind_seconds: list[float] = field(default_factory=list)
    draw_seconds: list[float] = field(default_factory=list)
    train_to_result: float | None = None
    result_shown: bool = False
    predictions: int = 0
    errors: list[str] = field(default_factory=list)
    failure: str | None = None
    finished: bool = False
    unanswered: int = 0
    dropped: int = 0

    @property
    def rerun_seconds(self) -> list[float]:
        """Every timed request: page changes, widget changes, timers (those sent with nothing
        else waiting), drawings."""
        return self.page_seconds + self.widget_seconds + self.watch_seconds + self.draw_seconds


def check_loopback(base_url: str) -> None:
    """Refuse a server that is not on this machine's loopback.

    Raises:
        ValueError: When `base_url` is not http(s) or its host resolves to any address
            outside 127.0.0.0/8 and ::1.
    """
    parsed = urlparse(base_url)
    if parsed.scheme not in {"http", "https"} or not parsed.hostname:
        raise ValueError(f"Give the server as http://127.0.0.1:<port>; got {base_url!r}.")
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parsed.hostname, parsed.port)}
    except (socket.gaierror, UnicodeError) as error:
        raise ValueError(f"The host {parsed.hostname!r} does not resolve: {error}.") from error
    outside = sorted(a for a in addresses if not ipaddress.ip_address(a.split("%")[0]).is_loopback)
    if outside:
        raise ValueError(
            f"The class load only runs against this machine's loopback (127.0.0.0/8, ::1); "
            f"{parsed.hostname!r} resolves to {', '.join(outside)}."
        )


def check_bounds(base_urls: list[str], learners: int, duration: float) -> None:
    """Refuse a class over the caps, or aimed anywhere but loopback (ValueError)."""
    if not base_urls:
        raise ValueError("Give at least one server.")
    if not 1 <= learners <= MAX_LEARNERS:
        raise ValueError(f"A class has 1 to {MAX_LEARNERS} learners; got {learners}.")
    if not 0 < duration <= MAX_DURATION_SECONDS:
        raise ValueError(
            f"A class lasts more than 0 and at most {MAX_DURATION_SECONDS} s; got {duration}."
        )
    for base_url in base_urls:
        check_loopback(base_url)


def digit_drawing(pixels: np.ndarray, serial: int = 1) -> str:
    """The canvas's state for a 28x28 digit: its PNG (white ink on black, drawn 10 times
    larger, as the 280x280 canvas sends it) and a short stroke through its ink."""
    ink = np.asarray(Image.fromarray(pixels).resize((CANVAS_SIZE, CANVAS_SIZE), Image.BILINEAR))
    rgba = np.zeros((CANVAS_SIZE, CANVAS_SIZE, 4), dtype=np.uint8)
    rgba[..., :3] = ink[..., np.newaxis]
    rgba[..., 3] = 255
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, format="PNG")
    rows, columns = np.nonzero(ink > 128)
    points = [[float(x), float(y)] for y, x in zip(rows[::40], columns[::40], strict=True)]
    data_url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    strokes = [{"width": 18, "points": points}] if points else []
    return json.dumps({"drawing": {"png": data_url, "serial": serial, "strokes": strokes}})


def test_digits(count: int) -> list[np.ndarray]:
    """`count` different MNIST test digits (28x28, 0-255), for the learners to draw."""
    from core.data.datasets import load_default_dataset

    images = load_default_dataset().test_images
    return [np.asarray(images[(index * 97) % len(images)]) for index in range(count)]


async def _watch_until_result(session: LearnerSession, result: LearnerResult, deadline: float):
    """Wait (the page's timers rerunning it) until this learner's result or an error shows."""
    shown = asyncio.Event()
    errors_before = len(session.errors)

    def look(_at, message) -> None:
        if message.WhichOneof("type") != "delta":
            return
        element = message.delta.new_element
        if element.WhichOneof("type") == "alert" and element.alert.body == TRAINING_FINISHED:
            shown.set()

    session.on_message = look
    try:
        while not shown.is_set():
            if len(session.errors) > errors_before:
                raise RuntimeError(f"The training showed an error: {session.errors[-1]}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("The class's deadline came before the result.")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(shown.wait(), min(remaining, 1.0))
    finally:
        session.on_message = None
    result.result_shown = True


async def learner(
    result: LearnerResult, script: ClassScript, digit: np.ndarray, deadline: float
) -> None:
    """One learner's class, filling `result` as it goes (so a cancelled one keeps it)."""
    session = LearnerSession(result.base_url)
    try:
        await session.open()
        result.visitor_id = session.visitor_id
        think = script.think_seconds
        result.page_seconds.append(await session.goto(""))
        await asyncio.sleep(think)
        result.page_seconds.append(await session.goto("explore"))
        await asyncio.sleep(think)
        result.widget_seconds.append(await session.set_widget("explore_page", int_value=2))
        await asyncio.sleep(think)
        preset = preset_of(script.training)
        if preset is not None:
            result.page_seconds.append(await session.goto("train"))
            await asyncio.sleep(think)
            result.widget_seconds.append(
                await session.set_widget("train_preset", string_value=preset)
            )
        else:
            query = urlencode(script.training.to_query_params())
            result.page_seconds.append(await session.goto("train", query))
        await asyncio.sleep(think)
        pressed = time.monotonic()
        result.widget_seconds.append(await session.press("train_start"))
        await _watch_until_result(session, result, deadline)
        result.train_to_result = time.monotonic() - pressed
        await asyncio.sleep(2 * think)
        result.page_seconds.append(await session.goto("evaluate"))
        await asyncio.sleep(think)
        result.page_seconds.append(await session.goto("draw"))
        for number in range(script.digits):
            await asyncio.sleep(think)
            if number:  # Clear: the canvas sends that it is empty.
                result.draw_seconds.append(
                    await session.set_widget(CANVAS, json_value=json.dumps({"drawing": None}))
                )
            session.widgets.pop(PREDICTION_CHART, None)
            result.draw_seconds.append(
                await session.set_widget(CANVAS, json_value=digit_drawing(digit, number + 1))
            )
            result.predictions += PREDICTION_CHART in session.widgets
        await asyncio.sleep(think)
        result.finished = True
    except asyncio.CancelledError:
        result.failure = "stopped at the deadline"
        raise
    except (OSError, TimeoutError, RuntimeError, LookupError, ValueError) as error:
        result.failure = f"{type(error).__name__}: {error}"
    finally:
        result.watch_seconds = session.timer.seconds("watch")
        result.watch_behind_seconds = session.timer.seconds("watch", behind=True)
        result.errors = list(dict.fromkeys(session.errors))
        result.unanswered = session.timer.unanswered
        result.dropped = session.timer.dropped
        await asyncio.shield(session.close())


@dataclass
class ClassResult:
    """Every learner's result, and the seconds the class took."""

    learners: list[LearnerResult]
    seconds: float
    stopped_at_deadline: bool

    def summary(self) -> dict[str, float | int | None]:
        """Median and 95th percentile of reruns, and of Train press to result."""
        reruns = [s for learner in self.learners for s in learner.rerun_seconds]
        page = [s for learner in self.learners for s in learner.page_seconds]
        watch = [s for learner in self.learners for s in learner.watch_seconds]
        behind = [s for learner in self.learners for s in learner.watch_behind_seconds]
        results = [r.train_to_result for r in self.learners if r.train_to_result is not None]
        return {
            "learners": len(self.learners),
            "finished": sum(r.finished for r in self.learners),
            "results_shown": sum(r.result_shown for r in self.learners),
            "reruns": len(reruns),
            "rerun_median": percentile(reruns, 50),
            "rerun_p95": percentile(reruns, 95),
            "page_median": percentile(page, 50),
            "watch_median": percentile(watch, 50),
            "watch_p95": percentile(watch, 95),
            "watch_behind": len(behind),
            "watch_behind_median": percentile(behind, 50),
            "dropped": sum(r.dropped for r in self.learners),
            "train_to_result_median": percentile(results, 50),
            "train_to_result_p95": percentile(results, 95),
            "train_to_result_max": max(results) if results else None,
            "learners_with_errors": sum(bool(r.errors) for r in self.learners),
            "seconds": self.seconds,
        }


def percentile(values: list[float], share: float) -> float | None:
    """The `share`-th percentile (0-100) of `values`, or None when there are none."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return float(np.percentile(values, share)) if share != 50 else statistics.median(values)


async def run_class_async(
    base_urls: list[str],
    learners: int,
    script: ClassScript,
    duration: float,
    arrival_seconds: float = 5.0,
) -> ClassResult:
    """Run a class: learner i on `base_urls[i % len(base_urls)]` (sticky by construction),
    arriving evenly over `arrival_seconds`; everything stops after `duration` seconds."""
    check_bounds(base_urls, learners, duration)
    started = time.monotonic()
    deadline = started + duration
    digits = test_digits(learners)

    results = [LearnerResult(index, base_urls[index % len(base_urls)]) for index in range(learners)]

    async def arrive(result: LearnerResult) -> None:
        await asyncio.sleep(arrival_seconds * result.index / learners)
        await learner(result, script, digits[result.index], deadline)

    tasks = [asyncio.create_task(arrive(result)) for result in results]
    try:
        _done, pending = await asyncio.wait(tasks, timeout=duration)
    finally:
        # At the deadline, or when this coroutine is cancelled (Ctrl-C), every learner stops.
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks, timeout=30)
    for result in results:
        if result.failure is None and not result.finished:
            result.failure = "stopped at the deadline"
    return ClassResult(results, time.monotonic() - started, bool(pending))


def run_class(
    base_urls: list[str],
    learners: int,
    script: ClassScript,
    duration: float,
    arrival_seconds: float = 5.0,
) -> ClassResult:
    """`run_class_async` in its own event loop (raises ValueError out of bounds)."""
    check_bounds(base_urls, learners, duration)
    return run_coroutine(run_class_async(base_urls, learners, script, duration, arrival_seconds))
