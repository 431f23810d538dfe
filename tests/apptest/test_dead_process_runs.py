"""A visitor whose app process was killed mid-training reloads onto another process: the
first page of that new session already lists the training as interrupted (on SQLite and on
PostgreSQL).

Before, the surviving process recorded it on its next periodic look (every 5 heartbeats, and
only once it beat at all), so a quick reload showed the visitor's runs without it; CI's
failover test caught it once the suite ran fast enough.
"""

from __future__ import annotations

import re

import ui
from testkit.harness import app_test
from testkit.jobs import kill, start_run_writer

PAGE = "app_pages/compare.py"
NAME = "784-48-10 relu, adam 0.001, 20 ep, 60,000 images · seed 0"


def runs_caption(app) -> str | None:
    """The Compare page's "N of M runs." caption, or None when it shows no runs."""
    for caption in app.caption:
        if re.search(r"\d+ of \d+ runs\.", caption.value):
            return caption.value.split(".")[0]
    return None


def test_a_new_session_finds_a_killed_process_s_training_as_interrupted(
    store_on, isolated_run_store, tmp_path
):
    # This process serves a first visitor: its run store is open and has looked for the
    # runs of dead processes (none yet).
    first = app_test(PAGE).run()
    assert not first.exception
    assert runs_caption(first) is None

    # Another app process (on the same folder with SQLite, the same database with
    # PostgreSQL) starts a training and is killed.
    folder = isolated_run_store if store_on is None else tmp_path / "other"
    writer = start_run_writer(folder, store_on, name=NAME, owner=None)
    kill(writer)

    # Its visitor's reload lands here as a new session: the training is listed at once.
    app = app_test(PAGE).run()
    assert not app.exception
    assert runs_caption(app) == "1 of 1 runs"
    runs = ui.run_store().list_runs()
    assert list(zip(runs["name"], runs["status"], strict=True)) == [(NAME, "interrupted")]
    assert ui.run_store().runs_in_progress() == []
