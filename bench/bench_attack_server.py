"""Benchmark what each attack of issue 12 costs a running demo server, next to normal use.

Every row starts its own `streamlit run streamlit_app.py` in the demo profile
(`MNIST_STUDIO_DEMO_MODE=1`, the app's own Streamlit configuration, as in production; not the
test session's error details) with an empty run store, and drives it as a visitor would, in
Debian's headless Chromium through Playwright: files uploaded on Compare -> Import and
export, Explore -> Your own files and Draw -> Upload a picture, links opened on Train.

Before the measured part the visitor opens the Train page (so TensorFlow is loaded, as on a
demo server that has had visitors), then the page of the row (its imports done and not
counted); the measured part runs from the upload (or the link) until the
page shows its answer and the script has finished, plus one second. Meanwhile two threads
of this process watch the server: one requests `/_stcore/health` every 50 ms (10 s timeout)
and one reads the resident memory of the server and its children from `/proc` every 50 ms.
VmHWM (the kernel's high-water mark) is read before and after, to catch a peak between two
samples.

Rows: the attacks of the review (model files, a configuration JSON, an IDX dataset, two
pictures, two links), links to the widest network the link parser takes (one, and four
different ones in a row), and, as peers on the same pages, a normal model file, the real
MNIST test files of `data/mnist`, a normal photo, a normal link and a normal "Quick look"
training. Figures and what they show: bench/README.md.
Nothing needs the network: the attack files are built here (`testkit/attack_files.py` for the
model files), and requests to any host but the server are refused.

Usage:
    .venv/bin/python -m bench.bench_attack_server [--quick] [--repeats 3] [--only NAME,...]

`--quick` is one repeat of each row (about 13 minutes on 2 cores at load 20-30); the default
is three. Screenshots of each row's page go to test-output/bench-attack-server-*.png.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from testkit.attack_files import zeros_idx_gzip
from testkit.harness import (
    CHROMIUM_ARGS,
    chromium_path,
    process_tree,
    start_streamlit,
    stop_streamlit,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent

OUTPUT_DIR = PROJECT_ROOT / "test-output"
POLL_SECONDS = 0.05
HEALTH_TIMEOUT_SECONDS = 10
TAIL_SECONDS = 1.0
ACT_TIMEOUT_MS = 120_000
TRAINING_TIMEOUT_SECONDS = 300
MIB = 2**20

MAIN = '[data-testid="stMain"]'
APP_IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
ERROR = f'{MAIN} [data-testid="stAlertContentError"]'
SUCCESS = f'{MAIN} [data-testid="stAlertContentSuccess"]'
WARNING = f'{MAIN} [data-testid="stAlertContentWarning"]'
EXCEPTION = '[data-testid="stException"]'
METRIC = f'{MAIN} [data-testid="stMetricValue"]'

ATTACK_LINK = (
    "train?epochs=x%60%20**[Your%20session%20expired%20-%20log%20in%20again]"
    "(https://evil.example/login)**%20![t](https://evil.example/pixel.png)%20%60"
)
HUGE_TRAINING_LINK = (
    "train?architecture=cnn&conv_filters=512,512,512,512&hidden_layers=512,512,512,512"
    "&epochs=30&batch_size=60000"
)

# Within the link parser's own bounds (core.nn.config), over the demo's: the page still builds it
# for its layer table.
WIDEST_LINK = "train?hidden_layers=" + ",".join(["2048"] * 8)

# --- The server, watched from threads ------------------------------------------------------


def tree_kib(pid: int, field_name: str) -> int:
    """Sum a /proc/<pid>/status field (VmRSS, VmHWM; KiB) over the process and its children."""
    total = 0
    for member in process_tree(pid):
        try:
            for line in Path(f"/proc/{member}/status").read_text().splitlines():
                if line.startswith(f"{field_name}:"):
                    total += int(line.split()[1])
                    break
        except OSError:
            continue
    return total


def load_average() -> str:
    """The 1, 5 and 15 minute load averages."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


class Watcher:
    """Two daemon threads: health requests and memory samples, each every `POLL_SECONDS`.

    Health samples are (start time, seconds or None for a failure); memory samples are
    (time, RSS bytes of the server's process tree).
    """

    def __init__(self, base_url: str, pid: int) -> None:
        self.url = f"{base_url}/_stcore/health"
        self.pid = pid
        self.health: list[tuple[float, float | None]] = []
        self.memory: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._poll_health, daemon=True),
            threading.Thread(target=self._sample_memory, daemon=True),
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=HEALTH_TIMEOUT_SECONDS + 5)

    def _poll_health(self) -> None:
        while not self._stop.is_set():
            started = time.perf_counter()
            try:
                with urllib.request.urlopen(self.url, timeout=HEALTH_TIMEOUT_SECONDS) as answer:
                    ok = answer.status == 200 and answer.read().strip() == b"ok"
            except OSError:
                ok = False
            self.health.append((started, time.perf_counter() - started if ok else None))
            self._stop.wait(POLL_SECONDS)

    def _sample_memory(self) -> None:
        while not self._stop.is_set():
            self.memory.append((time.perf_counter(), tree_kib(self.pid, "VmRSS") * 1024))
            self._stop.wait(POLL_SECONDS)

    def window(self, start: float, end: float) -> tuple[list[float | None], list[int]]:
        """Health answers begun and memory samples taken between `start` and `end`."""
        health = [latency for moment, latency in list(self.health) if start <= moment <= end]
        memory = [rss for moment, rss in list(self.memory) if start <= moment <= end]
        return health, memory


# --- Files a visitor uploads ----------------------------------------------------------------


def png_bytes(image, file_format: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=file_format)
    return buffer.getvalue()


def build_files(folder: Path, names: set[str]) -> dict[str, Path]:
    """Write the files the chosen rows upload into `folder`; return them by key."""
    import numpy as np
    from PIL import Image

    from core.data.idx import idx_bytes

    files: dict[str, Path] = {}

    def write(key: str, name: str, data: bytes) -> None:
        path = folder / key / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        files[key] = path

    needs = {need for name in names for need in (ROWS.get(name) or SERVER_ROWS[name]).files}
    if needs & {"normal_model", "padded_config", "many_members", "upsampling"}:
        from testkit.attack_files import (
            many_members,
            padded_config,
            small_model_bytes,
            upsampling_model,
        )

        base = small_model_bytes()
        builders = {
            "normal_model": lambda: base,
            "padded_config": lambda: padded_config(base),
            "many_members": lambda: many_members(base),
            "upsampling": upsampling_model,
        }
        for key in needs & set(builders):
            write(key, f"{key}.keras", builders[key]())
    if "huge_integer" in needs:
        write("huge_integer", "config.json", b'{"config": {"epochs": ' + b"9" * 5000 + b"}}")
    if "idx_bomb" in needs:
        write("idx_bomb", "bomb-images-idx3-ubyte.gz", zeros_idx_gzip(342_000))
        labels = (np.arange(342_000) % 10).astype(np.uint8)
        write("idx_bomb_labels", "bomb-labels-idx1-ubyte.gz", idx_bytes(labels, compress=True))
    if "mnist_test" in needs:
        files["mnist_test"] = PROJECT_ROOT / "data/mnist/t10k-images-idx3-ubyte.gz"
        files["mnist_test_labels"] = PROJECT_ROOT / "data/mnist/t10k-labels-idx1-ubyte.gz"
    if "strip_png" in needs:
        write("strip_png", "strip.png", png_bytes(Image.new("L", (1, 25_000_000), 255)))
    if "icon_png" in needs:
        write("icon_png", "icon.png", png_bytes(Image.new("RGB", (32, 32), "black"), "ICO"))
    if "zeros70k" in needs:
        write("zeros70k", "zeros-images-idx3-ubyte.gz", zeros_idx_gzip(70_000))
        labels = (np.arange(70_000) % 10).astype(np.uint8)
        write("zeros70k_labels", "zeros-labels-idx1-ubyte.gz", idx_bytes(labels, compress=True))
    if "picture24mp" in needs:
        from PIL import ImageDraw

        picture = Image.new("RGB", DRAW_MEGAPIXELS, "white")
        ImageDraw.Draw(picture).line([(2600, 800), (3400, 800), (2900, 3200)], "black", 260)
        write("picture24mp", "seven-24mp.png", png_bytes(picture))
    if "photo" in needs:
        from core.data.datasets import load_default_dataset

        digit = load_default_dataset().test_images[1]
        photo = Image.new("L", (240, 200), 255)
        photo.paste(Image.fromarray(255 - digit).resize((140, 140)), (60, 30))
        write("photo", "two.png", png_bytes(photo))
    return files


# --- What a visitor does --------------------------------------------------------------------


def wait_for_app(page, timeout: float = ACT_TIMEOUT_MS) -> None:
    page.wait_for_selector(APP_IDLE, timeout=timeout)
    page.wait_for_selector(MAIN, timeout=timeout)


def shown(page, selector: str) -> str:
    """Wait until an element of `selector` is visible; return its text on one line."""
    element = page.wait_for_selector(selector, timeout=ACT_TIMEOUT_MS)
    return " ".join(element.inner_text().replace("\u2060", "").split())


def open_compare_import(page, base_url: str) -> None:
    page.goto(f"{base_url}/compare")
    wait_for_app(page)
    page.get_by_role("tab", name="Import and export").click()
    page.locator('.st-key-compare_import_model input[type="file"]').wait_for(state="attached")


def open_explore_upload(page, base_url: str) -> None:
    page.goto(f"{base_url}/explore")
    wait_for_app(page)
    page.get_by_role("tab", name="Your own files").click()
    page.locator('.st-key-explore_upload_images input[type="file"]').wait_for(state="attached")


def open_draw_upload(page, base_url: str) -> None:
    page.goto(f"{base_url}/draw")
    wait_for_app(page)
    page.locator(".st-key-draw_input").get_by_text("Upload a picture", exact=True).click()
    page.locator('.st-key-draw_upload input[type="file"]').wait_for(state="attached")
    wait_for_app(page)


def open_train(page, base_url: str) -> None:
    page.goto(f"{base_url}/train")
    wait_for_app(page)
    page.locator(f"{MAIN} button").filter(has_text="Train").first.wait_for()


def open_quick_look(page, base_url: str) -> None:
    page.goto(f"{base_url}/{quick_look_link()}")
    wait_for_app(page)
    page.locator(f"{MAIN} button").filter(has_text="Train").first.wait_for()


def quick_look_link() -> str:
    from core.nn.presets import PRESETS

    parameters = PRESETS["Quick look"].to_query_params()
    return "train?" + "&".join(f"{name}={value}" for name, value in parameters.items())


def upload(page, key: str, path: Path) -> None:
    page.locator(f'.st-key-{key} input[type="file"]').set_input_files(str(path))


def import_model(file_key: str) -> Callable:
    def act(page, base_url: str, files: dict[str, Path]) -> str:
        upload(page, "compare_import_model", files[file_key])
        return shown(page, f"{ERROR}, {SUCCESS}, {EXCEPTION}")

    return act


def import_config(page, base_url: str, files: dict[str, Path]) -> str:
    upload(page, "compare_import_config", files["huge_integer"])
    return shown(page, f"{ERROR}, {SUCCESS}, {EXCEPTION}")


def upload_dataset(images_key: str) -> Callable:
    def act(page, base_url: str, files: dict[str, Path]) -> str:
        upload(page, "explore_upload_images", files[images_key])
        upload(page, "explore_upload_labels", files[f"{images_key}_labels"])
        for key in ("explore_upload_images", "explore_upload_labels"):
            progress = page.locator(f'.st-key-{key} [role="progressbar"]')
            progress.wait_for(state="detached", timeout=ACT_TIMEOUT_MS)
        wait_for_app(page)
        page.get_by_role("button", name="Use these files").click()
        return shown(page, f"{ERROR}, {SUCCESS}, {EXCEPTION}")

    return act


def upload_picture(file_key: str) -> Callable:
    def act(page, base_url: str, files: dict[str, Path]) -> str:
        upload(page, "draw_upload", files[file_key])
        text = shown(page, f"{ERROR}, {METRIC}, {EXCEPTION}")
        if page.query_selector(METRIC) is not None:
            return f"predicted {text}"
        return text

    return act


def open_link(link: str | Callable[[], str], answer: str) -> Callable:
    def act(page, base_url: str, files: dict[str, Path]) -> str:
        page.goto(f"{base_url}/{link() if callable(link) else link}")
        wait_for_app(page)
        text = shown(page, answer) if answer else "page shown"
        train = page.locator(f"{MAIN} button").filter(has_text="Train").first
        state = "disabled" if train.is_disabled() else "enabled"
        evil = page.locator('a[href*="evil.example"], img[src*="evil.example"]').count()
        return f"Train {state}, {evil} evil.example links or images; {text}"

    return act


def open_widest_links(page, base_url: str, files: dict[str, Path]) -> str:
    """Open four different widest links in turn: does each build cost memory anew?"""
    for neurons in range(2048, 2044, -1):
        page.goto(f"{base_url}/train?hidden_layers=" + ",".join([str(neurons)] * 8))
        wait_for_app(page)
        text = shown(page, ERROR)
    return f"4 links, each: {text}"


def train_quick_look(page, base_url: str, files: dict[str, Path]) -> str:
    page.locator(f"{MAIN} button").filter(has_text="Train").first.click()
    deadline = time.perf_counter() + TRAINING_TIMEOUT_SECONDS
    while time.perf_counter() < deadline:
        text = page.inner_text(MAIN)
        if "Training finished." in text and "Tested on" in text:
            accuracy = next((line for line in text.splitlines() if line.strip().endswith("%")), "")
            return f"Training finished, test accuracy {accuracy.strip()}"
        if "The training failed" in text or page.query_selector(EXCEPTION) is not None:
            return "failed: " + " ".join(text.split())[:120]
        time.sleep(0.2)
    return f"NOT finished after {TRAINING_TIMEOUT_SECONDS} s"


@dataclass(frozen=True)
class Row:
    """One thing a visitor does: `prepare` (not measured) then `act` (measured).

    `act` returns the text the page showed; `peer` names the normal row of the same page.
    """

    label: str
    page: str
    prepare: Callable
    act: Callable
    files: tuple[str, ...] = ()
    peer: str | None = None


ROWS: dict[str, Row] = {
    "normal-model": Row(
        "normal model (Flatten -> Dense 10), 0.04 MiB", "Compare: import",
        open_compare_import, import_model("normal_model"), ("normal_model",),
    ),
    "padded-config": Row(
        "padded config.json (3.9 MiB of spaces)", "Compare: import",
        open_compare_import, import_model("padded_config"), ("padded_config",), "normal-model",
    ),
    "many-members": Row(
        "many members (3 x 200 MiB of deflated zeros), 0.6 MiB", "Compare: import",
        open_compare_import, import_model("many_members"), ("many_members",), "normal-model",
    ),
    "upsampling": Row(
        "Reshape -> UpSampling2D 6x -> Conv2D 64, 0.03 MiB", "Compare: import",
        open_compare_import, import_model("upsampling"), ("upsampling",), "normal-model",
    ),
    "huge-integer": Row(
        "configuration JSON with a 5,000-digit integer", "Compare: import",
        open_compare_import, import_config, ("huge_integer",), "normal-model",
    ),
    "mnist-test": Row(
        "MNIST test files (data/mnist t10k, 10,000 images)", "Explore: your files",
        open_explore_upload, upload_dataset("mnist_test"), ("mnist_test",),
    ),
    "idx-bomb": Row(
        "IDX declaring 342,000 images (1.8 MiB gzipped)", "Explore: your files",
        open_explore_upload, upload_dataset("idx_bomb"), ("idx_bomb",), "mnist-test",
    ),
    "photo": Row(
        "normal photo of a digit (240x200 PNG)", "Draw: upload",
        open_draw_upload, upload_picture("photo"), ("photo",),
    ),
    "strip-png": Row(
        "1 x 25,000,000 PNG", "Draw: upload",
        open_draw_upload, upload_picture("strip_png"), ("strip_png",), "photo",
    ),
    "icon-png": Row(
        "ICO renamed .png", "Draw: upload",
        open_draw_upload, upload_picture("icon_png"), ("icon_png",), "photo",
    ),
    "quick-look-link": Row(
        "normal link (Quick look preset)", "Train: link",
        open_train, open_link(quick_look_link, ""),
    ),
    "huge-training-link": Row(
        "review's link: CNN 512x4 + dense 512x4, 30 epochs, batch 60,000", "Train: link",
        open_train, open_link(HUGE_TRAINING_LINK, ERROR), peer="quick-look-link",
    ),
    "widest-link": Row(
        "widest dense link the parser takes: 8 hidden layers of 2,048", "Train: link",
        open_train, open_link(WIDEST_LINK, ERROR), peer="quick-look-link",
    ),
    "widest-links-x4": Row(
        "four different widest links (2,048 ... 2,045 neurons), one after another",
        "Train: link", open_train, open_widest_links, peer="quick-look-link",
    ),
    "injection-link": Row(
        "markdown injection link (fake login link and image)", "Train: link",
        open_train, open_link(ATTACK_LINK, WARNING), peer="quick-look-link",
    ),
    "quick-look-training": Row(
        "normal training: Quick look (10,000 images, 2 epochs)", "Train: Train pressed",
        open_quick_look, train_quick_look,
    ),
}  # fmt: skip


# --- Issue 20: many sessions, raw protocol clients --------------------------------------------
#
# These rows drive the server the way the review's attacker did: `testkit/streamlit_client.py`
# speaks Streamlit's WebSocket protocol and PUTs to the upload route without a browser (many
# sessions are cheap that way), and Chromium does what needs a page (Explore's and Draw's
# uploads). Each row's act gets a `Server` and returns the sentence reported as its outcome.

# A training that takes a few seconds (so one is still running when pressed again) and one
# that takes about one (for the rows that need many jobs).
SHORT_TRAINING_QUERY = "epochs=5&train_size=30000&hidden_layers=256,256&batch_size=32"
TINY_TRAINING_QUERY = "epochs=1&train_size=100&hidden_layers=8&batch_size=100"
JOB_WAIT_SECONDS = 300
UPLOAD_FILE_MIB = 19.5
UPLOAD_COUNT = 25
EXPLORE_SESSIONS = 10
EVALUATE_SESSIONS = 100
EVALUATE_AT_ONCE = 10
DRAW_SESSIONS = 3
DRAW_MEGAPIXELS = (6000, 4000)
FLOOD_VICTIMS = 3
FLOOD_RUNS_PER_VICTIM = 5
FLOOD_ATTACKER_IDS = 40
FLOOD_MAX_RUNS = 30
QUICK_JOBS = 120
QUICK_JOB_CLIENTS = 4
# Seconds the 10 Explore sessions are watched after they disconnect (the review saw their
# memory still held at 300 s); `--linger` changes it.
LINGER_SECONDS = 200


@dataclass
class Server:
    """A running server of one row, what watches it, and the Chromium to drive."""

    base_url: str
    pid: int
    folder: Path
    browser: object
    files: dict[str, Path]
    watcher: Watcher
    linger: float = LINGER_SECONDS
    recorded_press: bytes = b""


def tree_threads(pid: int) -> int:
    """Threads of the server's process tree."""
    return tree_kib(pid, "Threads")


def client_for(server: Server):
    from testkit.streamlit_client import StreamlitClient

    return StreamlitClient(server.base_url)


def record_train_press(server: Server, query: str) -> bytes:
    """Press Train once in Chromium and return the message the browser sent for it.

    A rerun carries the values of every widget of the page, which only the page knows; the
    raw clients replay this one (widget ids are the same in every session).
    """
    from streamlit.proto.BackMsg_pb2 import BackMsg

    frames: list[bytes] = []
    context = server.browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(ACT_TIMEOUT_MS)
    try:
        page = context.new_page()
        refuse_other_hosts(page, server.base_url)
        page.on(
            "websocket",
            lambda socket: socket.on(
                "framesent", lambda payload: frames.append(payload) if payload else None
            ),
        )
        page.goto(f"{server.base_url}/train?{query}")
        wait_for_app(page)
        frames.clear()
        page.locator(f"{MAIN} button").filter(has_text="Train").first.click()
        page.wait_for_timeout(1000)
        wait_for_app(page)
        # Let its training end, so it does not count against the row.
        page.locator(f"{MAIN} button").filter(has_text="Train").first.wait_for()
        deadline = time.perf_counter() + JOB_WAIT_SECONDS
        while page.locator(f"{MAIN} button").filter(has_text="Train").first.is_disabled():
            if time.perf_counter() > deadline:
                break
            page.wait_for_timeout(500)
    finally:
        context.close()
    for payload in frames:
        if not isinstance(payload, bytes):
            continue
        message = BackMsg()
        message.ParseFromString(payload)
        widgets = message.rerun_script.widget_states.widgets
        if any(widget.id.endswith("train_start") and widget.trigger_value for widget in widgets):
            return payload
    raise RuntimeError("Chromium's press of Train was not seen on the WebSocket")


def press_train(client, query: str, recorded: bytes) -> list:
    """Replay the recorded press of Train in this client's session; return its messages."""
    client.rerun("train", query)
    assert client.connection is not None
    client.connection.send(recorded)
    return client.wait_until_finished()


def train_once(client, query: str, recorded: bytes) -> bool:
    """Press Train and wait until the visitor's Train button is enabled again."""
    from testkit.streamlit_client import alerts, find_button

    messages = press_train(client, query, recorded)
    if any("already running" in text or "at most" in text for text in alerts(messages)):
        return False
    deadline = time.perf_counter() + JOB_WAIT_SECONDS
    while time.perf_counter() < deadline:
        time.sleep(0.5)
        button = find_button(client.rerun("train", query), "Train")
        if button is not None and not button.disabled:
            return True
    raise RuntimeError(f"a training did not end within {JOB_WAIT_SECONDS} s")


STEPS = ("press", "press again", "clear+press", "clear+press")


def trainings_in_progress(server: Server) -> int:
    """Trainings the server is running now: each is a run in progress of its run store."""
    from core.runs import RunStore

    return len(RunStore(server.folder / "runs").runs_in_progress())


def clear_cache_then_resubmit(server: Server) -> str:
    """Break 1: press Train, press again (refused), then clear the caches and press again."""
    recorded = server.recorded_press
    client = client_for(server)
    client.open("train", SHORT_TRAINING_QUERY)
    running = []
    for step in STEPS:
        if step.startswith("clear"):
            client.clear_cache()
        press_train(client, SHORT_TRAINING_QUERY, recorded)
        time.sleep(1.0)
        running.append(trainings_in_progress(server))
    client.close()
    steps = ", ".join(f"{step}: {count}" for step, count in zip(STEPS, running, strict=True))
    return (
        f"one visitor's trainings running at once, at most {max(running)} (after each step: "
        f"{steps})"
    )


def pruning_flood(server: Server) -> str:
    """Break 3: victims keep runs, then many cookie ids make one tiny run each."""
    import concurrent.futures

    from core.runs import RunStore
    from core.visitors.identity import COOKIE_NAME

    recorded = server.recorded_press
    victims = []
    for _ in range(FLOOD_VICTIMS):
        client = client_for(server)
        client.open("train", TINY_TRAINING_QUERY)
        for _ in range(FLOOD_RUNS_PER_VICTIM):
            train_once(client, TINY_TRAINING_QUERY, recorded)
        victims.append(next(c.value for c in client.jar if c.name == COOKIE_NAME))
        client.close()

    def attacker(_: int) -> str:
        client = client_for(server)
        client.open("train", TINY_TRAINING_QUERY)
        train_once(client, TINY_TRAINING_QUERY, recorded)
        client.close()
        return next(c.value or "" for c in client.jar if c.name == COOKIE_NAME)

    with concurrent.futures.ThreadPoolExecutor(QUICK_JOB_CLIENTS) as pool:
        attackers = set(pool.map(attacker, range(FLOOD_ATTACKER_IDS)))
    runs = RunStore(server.folder / "runs").list_runs()
    owners = list(runs["owner"]) if "owner" in runs else []
    kept = sum(owner in victims for owner in owners)
    flood = sum(owner in attackers for owner in owners)
    return (
        f"max_runs {FLOOD_MAX_RUNS}: {FLOOD_VICTIMS} visitors kept {kept} of "
        f"{FLOOD_VICTIMS * FLOOD_RUNS_PER_VICTIM} runs; {FLOOD_ATTACKER_IDS} one-run ids kept "
        f"{flood}"
    )


def explore_sessions(server: Server) -> str:
    """Break 4a: sessions each upload the 53 KB dataset of 70,000 images on Explore."""
    from playwright.sync_api import Error as PlaywrightError

    contexts = []
    outcome, answered = "", 0
    try:
        for number in range(EXPLORE_SESSIONS):
            context = server.browser.new_context(viewport={"width": 1400, "height": 1000})
            context.set_default_timeout(ACT_TIMEOUT_MS)
            contexts.append(context)
            page = context.new_page()
            refuse_other_hosts(page, server.base_url)
            try:
                open_explore_upload(page, server.base_url)
                outcome = upload_dataset("zeros70k")(page, server.base_url, server.files)
                answered += 1
            except PlaywrightError as error:
                outcome = f"session {number + 1}: {str(error).splitlines()[0][:80]}"
                page.screenshot(path=str(OUTPUT_DIR / f"bench-explore-session-{number}.png"))
        time.sleep(TAIL_SECONDS)
        connected = tree_kib(server.pid, "VmRSS") * 1024
    finally:
        for context in contexts:
            context.close()
    closed = time.perf_counter()
    samples = {}
    for moment in (10, 60, server.linger):
        time.sleep(max(0.0, closed + moment - time.perf_counter()))
        samples[moment] = tree_kib(server.pid, "VmRSS") * 1024
    after = ", ".join(f"{moment:.0f} s: {rss / MIB:,.0f}" for moment, rss in samples.items())
    return (
        f"{answered} of {EXPLORE_SESSIONS} pages answered, last: {outcome[:90]}; RSS with the "
        "sessions connected "
        f"{connected / MIB:,.0f} MiB; after they closed (MiB) {after}"
    )


# Notes when the app's script starts running (a quick run may end before a poll sees it).
RUN_WATCH_SCRIPT = """() => {
  document.activeElement && document.activeElement.blur();
  window.__sawScriptRun = false;
  const app = document.querySelector('[data-testid="stApp"]');
  new MutationObserver(() => {
    if (app.getAttribute("data-test-script-state") === "running") window.__sawScriptRun = true;
  }).observe(app, {attributes: true});
}"""


def rerun_page(page) -> None:
    """Rerun the page's script as Streamlit's "R" shortcut does, and wait until it is done."""
    page.evaluate(RUN_WATCH_SCRIPT)
    page.keyboard.press("r")
    page.wait_for_function("window.__sawScriptRun === true", timeout=ACT_TIMEOUT_MS)
    wait_for_app(page)


def draw_large_pictures(server: Server) -> str:
    """Break 4b: sessions each upload a 24 MP picture on Draw, then rerun twice."""
    contexts, seconds, outcome = [], [], ""
    try:
        for _ in range(DRAW_SESSIONS):
            context = server.browser.new_context(viewport={"width": 1400, "height": 1000})
            context.set_default_timeout(ACT_TIMEOUT_MS)
            contexts.append(context)
            page = context.new_page()
            refuse_other_hosts(page, server.base_url)
            open_draw_upload(page, server.base_url)
            started = time.perf_counter()
            outcome = upload_picture("picture24mp")(page, server.base_url, server.files)
            wait_for_app(page)
            seconds.append(time.perf_counter() - started)
            for _ in range(2):
                started = time.perf_counter()
                rerun_page(page)
                seconds.append(time.perf_counter() - started)
    finally:
        for context in contexts:
            context.close()
    runs = ", ".join(f"{value:.1f}" for value in seconds)
    return f"{outcome[:60]}; s per upload and rerun: {runs}"


def uploads_to_one_session(server: Server) -> str:
    """Break 4c: one session PUTs 25 files of 19.5 MiB to the upload route."""
    client = client_for(server)
    client.open("explore")
    data = os.urandom(int(UPLOAD_FILE_MIB * MIB))
    statuses = [client.upload(data, f"part-{number}.bin") for number in range(UPLOAD_COUNT)]
    kept = statuses.count(204)
    client.close()
    refused = sorted({status for status in statuses if status != 204})
    return (
        f"{kept} of {UPLOAD_COUNT} files of {UPLOAD_FILE_MIB} MiB kept "
        f"({kept * UPLOAD_FILE_MIB:,.0f} MiB); refused with {refused or 'none'}"
    )


def evaluate_sessions(server: Server) -> str:
    """Break 5: sessions open Evaluate, `EVALUATE_AT_ONCE` at a time, then close."""
    import concurrent.futures

    def visit(_: int) -> float:
        client = client_for(server)
        started = time.perf_counter()
        client.open("evaluate")
        took = time.perf_counter() - started
        client.close()
        return took

    with concurrent.futures.ThreadPoolExecutor(EVALUATE_AT_ONCE) as pool:
        seconds = list(pool.map(visit, range(EVALUATE_SESSIONS)))
    time.sleep(TAIL_SECONDS)
    return (
        f"{EVALUATE_SESSIONS} sessions, {EVALUATE_AT_ONCE} at once: median "
        f"{statistics.median(seconds):.1f} s, worst {max(seconds):.1f} s to the page; RSS after "
        f"all closed {tree_kib(server.pid, 'VmRSS') / 1024:,.0f} MiB"
    )


def quick_jobs_threads(server: Server) -> str:
    """Break 6: many tiny trainings from a few visitors; threads of the server after."""
    import concurrent.futures

    recorded = server.recorded_press
    before = tree_threads(server.pid)

    def visitor(_: int) -> int:
        client = client_for(server)
        client.open("train", TINY_TRAINING_QUERY)
        done = sum(
            train_once(client, TINY_TRAINING_QUERY, recorded)
            for _ in range(QUICK_JOBS // QUICK_JOB_CLIENTS)
        )
        client.close()
        return done

    with concurrent.futures.ThreadPoolExecutor(QUICK_JOB_CLIENTS) as pool:
        done = sum(pool.map(visitor, range(QUICK_JOB_CLIENTS)))
    time.sleep(2)
    return f"{done} jobs finished; server threads {before} before, {tree_threads(server.pid)} after"


@dataclass(frozen=True)
class ServerRow:
    """An attack of issue 20: `act(server)` (measured) returns what it found."""

    label: str
    page: str
    act: Callable
    files: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    # The link whose press of Train is recorded in Chromium before the measured part.
    train_query: str | None = None


SERVER_ROWS: dict[str, ServerRow] = {
    "clear-cache-resubmit": ServerRow(
        "(1) one visitor: Train, Train, clear_cache + Train twice (raw client)", "Train",
        clear_cache_then_resubmit, train_query=SHORT_TRAINING_QUERY,
    ),
    "pruning-flood": ServerRow(
        f"(3) {FLOOD_VICTIMS} visitors x {FLOOD_RUNS_PER_VICTIM} runs, then "
        f"{FLOOD_ATTACKER_IDS} cookie ids x 1 tiny run (max_runs {FLOOD_MAX_RUNS})", "Train",
        pruning_flood, env={"MNIST_STUDIO_MAX_RUNS": str(FLOOD_MAX_RUNS)},
        train_query=TINY_TRAINING_QUERY,
    ),
    "explore-10-sessions": ServerRow(
        f"(4a) {EXPLORE_SESSIONS} sessions upload 70,000 images (53 KB gzip) on Explore",
        "Explore: your files", explore_sessions, ("zeros70k",),
    ),
    "draw-24mp-x3": ServerRow(
        f"(4b) {DRAW_SESSIONS} sessions upload a 24 MP picture on Draw, rerun twice",
        "Draw: upload", draw_large_pictures, ("picture24mp",),
    ),
    "uploads-25-one-session": ServerRow(
        f"(4c) {UPLOAD_COUNT} uploads of {UPLOAD_FILE_MIB} MiB to one session (raw PUTs)",
        "upload route", uploads_to_one_session,
    ),
    "evaluate-100-sessions": ServerRow(
        f"(5) {EVALUATE_SESSIONS} sessions open Evaluate ({EVALUATE_AT_ONCE} at once)",
        "Evaluate", evaluate_sessions,
    ),
    "threads-120-jobs": ServerRow(
        f"(6) {QUICK_JOBS} tiny trainings from {QUICK_JOB_CLIENTS} visitors", "Train",
        quick_jobs_threads, train_query=TINY_TRAINING_QUERY,
    ),
}  # fmt: skip


def measure_server_row(browser, name: str, files: dict[str, Path], folder: Path, linger: float):
    row = SERVER_ROWS[name]
    process, base_url, log_path = start_streamlit(
        folder, {"MNIST_STUDIO_DEMO_MODE": "1", **row.env}
    )
    watcher = Watcher(base_url, process.pid)
    server = Server(base_url, process.pid, folder, browser, files, watcher, linger)
    try:
        # TensorFlow loaded, as on a demo that has had visitors.
        warm = client_for(server)
        warm.open("train")
        warm.close()
        if row.train_query is not None:
            server.recorded_press = record_train_press(server, row.train_query)
        watcher.start()
        time.sleep(0.5)
        hwm_before = tree_kib(process.pid, "VmHWM") * 1024
        rss_start = tree_kib(process.pid, "VmRSS") * 1024
        started = time.perf_counter()
        outcome = row.act(server)
        seconds = time.perf_counter() - started
        time.sleep(TAIL_SECONDS)
        ended = time.perf_counter()
        hwm_after = tree_kib(process.pid, "VmHWM") * 1024
    finally:
        watcher.stop()
        stop_streamlit(process)
    health, memory = watcher.window(started, ended)
    peak = max([rss_start, *memory])
    hwm_rose = hwm_after > hwm_before
    if hwm_rose:
        peak = max(peak, hwm_after)
    if "Traceback" in log_path.read_text():
        outcome += " (traceback in the server log)"
    return Measure(outcome, seconds, rss_start, peak, hwm_rose, health, 0)


# --- Measuring ----------------------------------------------------------------------------


@dataclass
class Measure:
    """One repeat of one row."""

    outcome: str
    seconds: float
    rss_start: int
    rss_peak: int
    hwm_rose: bool
    health: list[float | None] = field(default_factory=list)
    exceptions: int = 0


def refuse_other_hosts(page, base_url: str) -> None:
    """Abort every request to another host (the injection link's image, for one)."""
    own = urlparse(base_url).hostname
    page.route(lambda url: (urlparse(url).hostname or own) != own, lambda route: route.abort())


def measure(browser, name: str, files: dict[str, Path], folder: Path) -> Measure:
    row = ROWS[name]
    process, base_url, log_path = start_streamlit(folder, {"MNIST_STUDIO_DEMO_MODE": "1"})
    watcher = Watcher(base_url, process.pid)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(ACT_TIMEOUT_MS)
    try:
        page = context.new_page()
        refuse_other_hosts(page, base_url)
        open_train(page, base_url)  # TensorFlow loaded, as on a demo that has had visitors
        row.prepare(page, base_url)
        watcher.start()
        time.sleep(0.5)  # a few samples of the idle page first
        hwm_before = tree_kib(process.pid, "VmHWM") * 1024
        rss_start = tree_kib(process.pid, "VmRSS") * 1024
        started = time.perf_counter()
        outcome = row.act(page, base_url, files)
        seconds = time.perf_counter() - started
        wait_for_app(page)
        time.sleep(TAIL_SECONDS)
        ended = time.perf_counter()
        hwm_after = tree_kib(process.pid, "VmHWM") * 1024
        exceptions = page.locator(EXCEPTION).count()
        page.screenshot(path=str(OUTPUT_DIR / f"bench-attack-server-{name}.png"), full_page=True)
    finally:
        watcher.stop()
        context.close()
        stop_streamlit(process)
    health, memory = watcher.window(started, ended)
    peak = max([rss_start, *memory])
    hwm_rose = hwm_after > hwm_before
    if hwm_rose:
        peak = max(peak, hwm_after)
    if "Traceback" in log_path.read_text():
        outcome += " (traceback in the server log)"
    return Measure(outcome, seconds, rss_start, peak, hwm_rose, health, exceptions)


def milliseconds(value: float | None) -> str:
    return "–" if value is None else f"{1000 * value:,.0f}"


def summarise(measures: list[Measure]) -> dict:
    answers = [latency for m in measures for latency in m.health if latency is not None]
    return {
        "outcome": measures[-1].outcome,
        "seconds": statistics.median(m.seconds for m in measures),
        "rss_start": statistics.median(m.rss_start for m in measures),
        "peak": max(m.rss_peak for m in measures),
        "growth": max(m.rss_peak - m.rss_start for m in measures),
        "health_median": statistics.median(answers) if answers else None,
        "health_worst": max(answers) if answers else None,
        "failures": sum(latency is None for m in measures for latency in m.health),
        "requests": sum(len(m.health) for m in measures),
        "exceptions": sum(m.exceptions for m in measures),
    }


def ratio(value: float | None, peer: float | None) -> str:
    if value is None or not peer:
        return "–"
    return f"{value / peer:.2f}"


def report(results: dict[str, dict], repeats: int) -> None:
    print(
        f"\n| page | row | page showed | s to answer | RSS at start MiB | peak RSS MiB "
        f"| growth MiB | health median ms | health worst ms | health failures "
        f"| worst / peer's | growth - peer's MiB |  (repeats: {repeats})"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, result in results.items():
        row = ROWS.get(name) or SERVER_ROWS[name]
        peer_name = getattr(row, "peer", None)
        peer = results.get(peer_name) if peer_name else None
        outcome = result["outcome"][: 110 if name in ROWS else 300]
        extra = "–" if peer is None else f"{(result['growth'] - peer['growth']) / MIB:+,.0f}"
        if result["exceptions"]:
            outcome += f" ({result['exceptions']} exception boxes)"
        print(
            f"| {row.page} | {'peer: ' if name in ROWS and peer_name is None else ''}{row.label} "
            f"| {outcome} "
            f"| {result['seconds']:.2f} | {result['rss_start'] / MIB:,.0f} "
            f"| {result['peak'] / MIB:,.0f} | {result['growth'] / MIB:,.0f} "
            f"| {milliseconds(result['health_median'])} "
            f"| {milliseconds(result['health_worst'])} "
            f"| {result['failures']} of {result['requests']} "
            f"| {ratio(result['health_worst'], peer and peer['health_worst'])} "
            f"| {extra} |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one repeat of each row")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--only",
        "--rows",
        help=f"comma-separated rows among: {', '.join([*ROWS, *SERVER_ROWS])}; "
        "`issue20` for the rows of issue 20 (all rows without it)",
    )
    parser.add_argument(
        "--linger",
        type=float,
        default=LINGER_SECONDS,
        help="seconds explore-10-sessions watches memory after the sessions closed",
    )
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an environment variable for the servers, e.g. STREAMLIT_RUNNER_POST_SCRIPT_GC=true",
    )
    parser.add_argument("--json", type=Path, help="also write the summaries to this file")
    arguments = parser.parse_args()
    repeats = 1 if arguments.quick else arguments.repeats
    names = [name.strip() for name in arguments.only.split(",")] if arguments.only else []
    if "issue20" in names:
        names.remove("issue20")
        names += list(SERVER_ROWS)
    names = names or [*ROWS, *SERVER_ROWS]
    unknown = set(names) - set(ROWS) - set(SERVER_ROWS)
    if unknown:
        parser.error(f"unknown rows: {', '.join(sorted(unknown))}")
    # The server gets this environment: keep it the production one.
    for variable in [name for name in os.environ if name.startswith("MNIST_STUDIO_")]:
        print(f"Ignoring {variable} from the environment.")
        del os.environ[variable]

    for setting in arguments.server_env:
        name, _, value = setting.partition("=")
        os.environ[name] = value
        print(f"Servers get {name}={value}.")

    from playwright.sync_api import sync_playwright

    OUTPUT_DIR.mkdir(exist_ok=True)
    began = time.perf_counter()
    print(
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}; load average at start: {load_average()} "
        f"({os.cpu_count()} CPU cores); {repeats} repeat(s) per row, a fresh server each",
        flush=True,
    )
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as temporary, sync_playwright() as playwright:
        folder = Path(temporary)
        files = build_files(folder / "files", set(names))
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True
        )
        try:
            for name in names:
                measures = []
                for repeat in range(repeats):
                    server_folder = folder / f"{name}-{repeat}"
                    server_folder.mkdir()
                    try:
                        if name in ROWS:
                            measures.append(measure(browser, name, files, server_folder))
                        else:
                            measures.append(
                                measure_server_row(
                                    browser, name, files, server_folder, arguments.linger
                                )
                            )
                    except Exception as error:  # One row's failure is its result.
                        print(f"  {name} #{repeat + 1} failed: {error!r}"[:400], flush=True)
                        continue
                    last = measures[-1]
                    print(
                        f"  {name} #{repeat + 1}: {last.seconds:.2f} s, RSS "
                        f"{last.rss_start / MIB:.0f} -> {last.rss_peak / MIB:.0f} MiB, health "
                        f"worst {milliseconds(max(filter(None, last.health), default=None))} "
                        f"ms: {last.outcome[:300]}",
                        flush=True,
                    )
                if measures:
                    results[name] = summarise(measures)
        finally:
            browser.close()
    report(results, repeats)
    if arguments.json:
        arguments.json.write_text(json.dumps(results, indent=1))
    print(f"\nLoad average at end: {load_average()}; whole run {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
