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
Nothing needs the network: the attack files are built here (`tests/attack_files.py` for the
model files), and requests to any host but the server are refused.

Usage:
    .venv/bin/python bench/bench_attack_server.py [--quick] [--repeats 3] [--only NAME,...]

`--quick` is one repeat of each row (about 13 minutes on 2 cores at load 20-30); the default
is three. Screenshots of each row's page go to test-output/bench-attack-server-*.png.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from tests.attack_files import zeros_idx_gzip  # noqa: E402
from tests.harness import (  # noqa: E402
    CHROMIUM_ARGS,
    chromium_path,
    process_tree,
    start_streamlit,
    stop_streamlit,
)

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

# Within the link parser's own bounds (core.config), over the demo's: the page still builds it
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

    from core.idx import idx_bytes

    files: dict[str, Path] = {}

    def write(key: str, name: str, data: bytes) -> None:
        path = folder / key / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        files[key] = path

    needs = {need for name in names for need in ROWS[name].files}
    if needs & {"normal_model", "padded_config", "many_members", "upsampling"}:
        from tests.attack_files import (
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
    if "photo" in needs:
        from core.data import load_default_dataset

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
    from core.config import PRESETS

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
        row = ROWS[name]
        peer = results.get(row.peer) if row.peer else None
        outcome = result["outcome"][:110]
        extra = "–" if peer is None else f"{(result['growth'] - peer['growth']) / MIB:+,.0f}"
        if result["exceptions"]:
            outcome += f" ({result['exceptions']} exception boxes)"
        print(
            f"| {row.page} | {'peer: ' if row.peer is None else ''}{row.label} | {outcome} "
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
    parser.add_argument("--only", help=f"comma-separated rows among: {', '.join(ROWS)}")
    parser.add_argument("--json", type=Path, help="also write the summaries to this file")
    arguments = parser.parse_args()
    repeats = 1 if arguments.quick else arguments.repeats
    names = [name.strip() for name in arguments.only.split(",")] if arguments.only else list(ROWS)
    unknown = set(names) - set(ROWS)
    if unknown:
        parser.error(f"unknown rows: {', '.join(sorted(unknown))}")
    # The server gets this environment: keep it the production one.
    for variable in [name for name in os.environ if name.startswith("MNIST_STUDIO_")]:
        print(f"Ignoring {variable} from the environment.")
        del os.environ[variable]

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
                    measures.append(measure(browser, name, files, server_folder))
                    last = measures[-1]
                    print(
                        f"  {name} #{repeat + 1}: {last.seconds:.2f} s, RSS "
                        f"{last.rss_start / MIB:.0f} -> {last.rss_peak / MIB:.0f} MiB, health "
                        f"worst {milliseconds(max(filter(None, last.health), default=None))} "
                        f"ms: {last.outcome[:100]}",
                        flush=True,
                    )
                results[name] = summarise(measures)
        finally:
            browser.close()
    report(results, repeats)
    if arguments.json:
        arguments.json.write_text(json.dumps(results, indent=1))
    print(f"\nLoad average at end: {load_average()}; whole run {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
