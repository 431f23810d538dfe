"""How fast the Train page answers Stop, as a learner sees it in Chromium.

Starts the app as the tests do, opens the Train page with a long training in its link
(784-256-10, batches of 32, 100 epochs), presses Train, waits until the progress bar moves,
then presses Stop and records, in the browser's own clock (a MutationObserver on the page):

- acknowledged: the Stop button or the progress text says "Stopping…" (target <= 0.5 s);
- result: the stopped run's result, scored on its test images, is on the page: "Stopped
  after" with its "Test accuracy" (target <= 1.5 s).

Each round uses a fresh tab (its own Streamlit session); the median of the rounds is printed
with the load average.

Run: .venv/bin/python -m bench.bench_stop_latency [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from core.nn.config import TrainingConfig
from testkit.browser import PROGRESS, PROGRESS_STARTED, open_train_page, press
from testkit.harness import CHROMIUM_ARGS, chromium_path, start_streamlit, stop_streamlit

CONFIG = TrainingConfig(hidden_layers=(256,), batch_size=32, epochs=100, seed=4)
# Seconds of training before the press, after the progress bar first moved.
TRAIN_SECONDS = 2.0

# Watches the main area; notes the browser time when each text first appears.
WATCH = """
() => {
  window.__marks = {};
  const main = document.querySelector('[data-testid="stMain"]');
  const check = () => {
    const text = main.innerText;
    const now = performance.now();
    if (window.__marks.ack === undefined && text.includes('Stopping…')) window.__marks.ack = now;
    if (window.__marks.result === undefined && text.includes('Stopped after')
        && text.includes('Test accuracy')) window.__marks.result = now;
  };
  new MutationObserver(check).observe(main, {subtree: true, childList: true,
                                             characterData: true, attributes: true});
}
"""
PRESS_STOP = """
() => {
  const button = [...document.querySelectorAll('[data-testid="stMain"] button')]
    .find(element => element.innerText.includes('Stop'));
  window.__marks.pressed = performance.now();
  button.click();
}
"""


def load_average() -> str:
    return "{:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def one_round(browser, base_url: str) -> tuple[float, float]:
    """Train, press Stop; return seconds to the acknowledgement and to the result."""
    context = browser.new_context(viewport={"width": 1400, "height": 2200})
    context.set_default_timeout(120_000)
    page = context.new_page()
    try:
        open_train_page(page, base_url, CONFIG)
        press(page, "Train")
        page.wait_for_selector(PROGRESS)
        page.wait_for_function(PROGRESS_STARTED)
        time.sleep(TRAIN_SECONDS)
        page.evaluate(WATCH)
        page.evaluate(PRESS_STOP)
        page.wait_for_function("() => window.__marks.result !== undefined")
        marks = page.evaluate("() => window.__marks")
        ack = marks.get("ack", marks["result"])
        return (ack - marks["pressed"]) / 1000, (marks["result"] - marks["pressed"]) / 1000
    finally:
        context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        process, base_url, _ = start_streamlit(Path(folder))
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True
                )
                acks, results = [], []
                for round_number in range(1, args.rounds + 1):
                    ack, result = one_round(browser, base_url)
                    acks.append(ack)
                    results.append(result)
                    print(
                        f"round {round_number}: acknowledged {ack:.2f} s, result {result:.2f} s "
                        f"[load {load_average()}]",
                        flush=True,
                    )
                browser.close()
        finally:
            stop_streamlit(process)
    print(
        f"median of {args.rounds}: acknowledged {statistics.median(acks):.2f} s (target <= 0.5), "
        f"result {statistics.median(results):.2f} s (target <= 1.5)"
    )


if __name__ == "__main__":
    main()
