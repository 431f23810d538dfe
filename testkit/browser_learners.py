"""Real Chromium visitors following the class script, timed from the browser's own WebSocket frames.

They run beside the simulated learners (`testkit.class_load`) to show that what those
measure is what a browser sees: each visitor clicks through the same steps (Home, Explore
and a page change there, the preset box and Train on Train, the result, Evaluate, digits
drawn with the mouse on Draw), and Chromium's DevTools protocol reports every frame its
WebSocket sends and receives with the browser's own timestamps; `testkit.rerun_timing` turns
them into the same latencies. Each visitor is a fresh browser context (its own visitor
cookie) in Debian's Chromium, in a thread of its own (Playwright's sync API).
"""

from __future__ import annotations

import base64
import threading
import time
from dataclasses import dataclass, field

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from core.nn.config import TrainingConfig
from core.nn.presets import preset_of
from testkit.browser import press_train, wait_for_app
from testkit.class_load import TRAINING_FINISHED, check_loopback
from testkit.harness import CHROMIUM_ARGS, chromium_path
from testkit.rerun_timing import RerunTimer

CANVAS = '[data-testid="draw-pad-canvas"]'
PREDICTION = '[data-testid="stMetricValue"]'
# Strokes of a few digits on the 280x280 canvas: (x, y) points, one list per stroke.
STROKES = (
    [[(70, 50), (210, 50), (120, 250)]],
    [[(140, 35), (140, 245)]],
    [[(95, 40), (80, 160), (205, 160)], [(175, 60), (175, 250)]],
)


@dataclass
class BrowserResult:
    """What one Chromium visitor measured (the browser's clock)."""

    index: int
    timer: RerunTimer = field(default_factory=RerunTimer)
    train_to_result: float | None = None
    finished: bool = False
    failure: str | None = None
    _pressed_at: float | None = None
    _train_button: str | None = None

    def frame_sent(self, at: float, payload: bytes) -> None:
        message = BackMsg()
        message.ParseFromString(payload)
        if message.WhichOneof("type") != "rerun_script":
            return
        state = message.rerun_script
        triggers = [w.id for w in state.widget_states.widgets if w.trigger_value]
        if state.is_auto_rerun:
            kind = "watch"
        elif state.fragment_id:
            kind = "draw"
        elif triggers or (state.widget_states.widgets and state.page_script_hash):
            kind = "widget"
        else:
            kind = "page"
        self.timer.sent(at, kind, state.fragment_id or None)
        if self._train_button is not None and self._train_button in triggers:
            self._pressed_at = at

    def frame_received(self, at: float, payload: bytes) -> None:
        message = ForwardMsg()
        message.ParseFromString(payload)
        kind, run = message.WhichOneof("type"), message.metadata.run
        if kind == "new_session":
            self.timer.run_started(at, run.script_run_id, run.fragment_ids)
        elif kind == "script_finished":
            self.timer.run_finished(at, run.script_run_id, message.script_finished)
        elif kind == "auto_rerun":
            self.timer.fragment_drawn(message.auto_rerun.fragment_id)
        elif kind == "delta" and message.delta.fragment_id:
            self.timer.fragment_drawn(message.delta.fragment_id)
        if kind == "delta" and message.delta.WhichOneof("type") == "new_element":
            element = message.delta.new_element
            kind = element.WhichOneof("type")
            if kind == "button" and element.button.id.endswith("-train_start"):
                self._train_button = element.button.id
            shown = kind == "alert" and element.alert.body == TRAINING_FINISHED
            if shown and self._pressed_at is not None and self.train_to_result is None:
                self.train_to_result = at - self._pressed_at


def _listen(page, result: BrowserResult) -> None:
    """Feed the page's WebSocket frames, with Chromium's timestamps, to `result`."""
    session = page.context.new_cdp_session(page)
    session.send("Network.enable")

    def frame(handler):
        def on_event(event) -> None:
            response = event["response"]
            if response.get("opcode") == 2:  # binary: a protobuf message
                handler(event["timestamp"], base64.b64decode(response["payloadData"]))

        return on_event

    session.on("Network.webSocketFrameSent", frame(result.frame_sent))
    session.on("Network.webSocketFrameReceived", frame(result.frame_received))


def _navigate(page, path: str) -> None:
    page.locator(f'[data-testid="stSidebarNav"] a[href$="/{path}"]').first.click()
    page.wait_for_url(f"**/{path}*")
    wait_for_app(page)


def _draw(page, strokes) -> None:
    box = page.locator(CANVAS).bounding_box()
    for stroke in strokes:
        page.mouse.move(box["x"] + stroke[0][0], box["y"] + stroke[0][1])
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x, box["y"] + y, steps=8)
        page.mouse.up()


def browser_class_script(page, base_url: str, training: TrainingConfig, digits: int) -> None:
    """The class script, clicked in a real page (see `testkit.class_load.learner`)."""
    page.goto(base_url)
    wait_for_app(page)
    _navigate(page, "explore")
    page_box = page.locator(".st-key-explore_page input")
    page_box.fill("2")
    page_box.press("Enter")
    wait_for_app(page)
    _navigate(page, "train")
    preset = preset_of(training)
    if preset is None:
        raise ValueError("Chromium visitors pick a preset; give a preset's configuration.")
    page.locator(".st-key-train_preset").click()
    page.get_by_role("option", name=preset, exact=True).click()
    wait_for_app(page)
    press_train(page)
    page.get_by_text(TRAINING_FINISHED).wait_for(timeout=30 * 60_000)
    wait_for_app(page)
    _navigate(page, "evaluate")
    _navigate(page, "draw")
    page.wait_for_selector(CANVAS, timeout=60_000)
    for number in range(digits):
        if number:
            page.get_by_role("button", name="Clear the canvas").click()
            page.wait_for_selector(PREDICTION, state="detached", timeout=60_000)
        _draw(page, STROKES[number % len(STROKES)])
        page.wait_for_selector(PREDICTION, timeout=120_000)
        wait_for_app(page)


def _visitor(
    result: BrowserResult, base_url: str, training, digits: int, deadline: float, opening: float
):
    from playwright.sync_api import sync_playwright

    time.sleep(max(0.0, opening - time.monotonic()))
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium_path(), args=CHROMIUM_ARGS
            )
            try:
                context = browser.new_context(viewport={"width": 1400, "height": 1600})
                context.set_default_timeout(max(1.0, deadline - time.monotonic()) * 1000)
                page = context.new_page()
                _listen(page, result)
                browser_class_script(page, base_url, training, digits)
                result.finished = True
            finally:
                browser.close()
    except Exception as error:  # Playwright's errors: recorded, the class goes on.
        result.failure = f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"


def start_browser_learners(
    base_urls: list[str],
    count: int,
    training: TrainingConfig,
    digits: int,
    duration: float,
    start_after: float = 0.0,
) -> tuple[list[BrowserResult], list[threading.Thread]]:
    """Start `count` Chromium visitors (visitor i on `base_urls[i % n]`), each in a thread.

    They open the link `start_after` seconds from now (among a class's last arrivals, so
    they meet the load the simulated learners make rather than an empty server).

    Returns the results they fill and their threads (join them; each stops within
    `duration` seconds, its steps' timeout).
    """
    if not 0 <= count <= 8:
        raise ValueError(f"A handful of Chromium visitors: 0 to 8; got {count}.")
    for base_url in base_urls:
        check_loopback(base_url)
    if not 0 <= start_after < duration:
        raise ValueError(f"start_after must be within the duration; got {start_after}.")
    opening = time.monotonic() + start_after
    deadline = time.monotonic() + duration
    results = [BrowserResult(index) for index in range(count)]
    threads = [
        threading.Thread(
            target=_visitor,
            args=(result, base_urls[result.index % len(base_urls)], training, digits),
            kwargs={"deadline": deadline, "opening": opening},
            daemon=True,
        )
        for result in results
    ]
    for thread in threads:
        thread.start()
    return results, threads
