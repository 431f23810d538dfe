"""What an idle tab costs the server (issue 19's figure of its job watcher).

Issue 19 kept an invisible fragment in every tab that looked up the visitor's jobs every 3 s
while none ran; since issue 23 an idle tab has no watcher (a job started in another tab
wakes it from the server: `ui.open_tabs`), so this now measures an idle tab's cost with
nothing to watch (`bench/bench_visitor_cost.py` compares before and after). This script
starts the app as the tests do (file watcher off), opens one tab on each page named, waits,
and prints the server's CPU time (all its threads, from /proc) over `SECONDS` seconds of
idling, as a share of one core.

Run: .venv/bin/python -m bench.bench_idle_job_watcher [page ...]   (default: home compare)
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from testkit.harness import (
    CHROMIUM_ARGS,
    chromium_path,
    cpu_seconds,
    start_streamlit,
    stop_streamlit,
)

SETTLE_SECONDS = 5
SECONDS = 30


def idle_share(base_url: str, pid: int, page_name: str, browser) -> float:
    """The server's CPU share of one core while one tab idles on `page_name`."""
    page = browser.new_page()
    page.goto(f"{base_url}/{'' if page_name == 'home' else page_name}")
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]')
    time.sleep(SETTLE_SECONDS)
    before, start = cpu_seconds(pid), time.monotonic()
    time.sleep(SECONDS)
    used, seconds = cpu_seconds(pid) - before, time.monotonic() - start
    page.close()
    return used / seconds


def main(pages: list[str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        process, base_url, _ = start_streamlit(Path(folder))
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=chromium_path(), args=CHROMIUM_ARGS
                )
                for page_name in pages:
                    share = idle_share(base_url, process.pid, page_name, browser)
                    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
                    print(f"{page_name}: {share:.2%} of a core over {SECONDS} s (load {load})")
                browser.close()
        finally:
            stop_streamlit(process)


if __name__ == "__main__":
    main(sys.argv[1:] or ["home", "compare"])
