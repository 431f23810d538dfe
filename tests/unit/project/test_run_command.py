"""`make run` starts a server that watches no files.

Streamlit's file watcher (on by default) watches the app's whole folder, `.venv` included
when `make run` made it there: one open tab then kept a core busy (issue 19). The
project's `.streamlit/config.toml` switches it off; these tests start the server with the
exact command `make run` prints and count the inotify watches it holds once a browser
session is connected (Streamlit registers its watchers per session).
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from streamlit.proto.BackMsg_pb2 import BackMsg
from websockets.sync.client import connect

from testkit.harness import PROJECT_ROOT, start_streamlit, stop_streamlit


def make_run_command(port: int) -> list[str]:
    """Return the server command of `make run PORT=port`, with this interpreter."""
    printed = subprocess.run(
        ["make", "--dry-run", "--always-make", "run", f"PORT={port}", f"PY={sys.executable}"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = [line for line in printed.splitlines() if "streamlit run" in line]
    assert len(lines) == 1, printed
    return shlex.split(lines[0])


def inotify_watches(pid: int) -> int:
    """Return how many inotify watches the process `pid` holds (from /proc/<pid>/fdinfo)."""
    watches = 0
    for info in Path(f"/proc/{pid}/fdinfo").iterdir():
        try:
            watches += info.read_text().count("inotify wd:")
        except OSError:
            continue
    return watches


def test_the_projects_configuration_switches_the_file_watcher_off():
    config = tomllib.loads((PROJECT_ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["fileWatcherType"] == "none"
    assert config["server"]["runOnSave"] is False


def test_make_run_overrides_no_file_watcher_setting():
    command = make_run_command(8599)
    assert command[1:5] == ["-m", "streamlit", "run", "streamlit_app.py"]
    assert not any("fileWatcher" in part for part in command)


@pytest.mark.skipif(not Path("/proc/self/fdinfo").exists(), reason="needs Linux /proc")
def test_a_server_started_as_make_run_watches_nothing_with_a_tab_open(tmp_path):
    process, base_url, log_path = start_streamlit(tmp_path, command=make_run_command)
    port = int(base_url.rsplit(":", 1)[1])
    try:
        # A connected WebSocket is a session, as an open tab is.
        with connect(
            f"ws://127.0.0.1:{port}/_stcore/stream",
            subprotocols=["streamlit"],
            origin=base_url,
        ) as websocket:
            # The session exists once the server answers its first run.
            rerun = BackMsg()
            rerun.rerun_script.query_string = ""
            rerun.rerun_script.page_script_hash = ""
            websocket.send(rerun.SerializeToString())
            websocket.recv(timeout=60)
            watches = inotify_watches(process.pid)
        assert watches == 0, f"{watches} inotify watches with one session open"
        assert "Inotify" not in log_path.read_text()
    finally:
        stop_streamlit(process)
