"""`make class`'s files: the nginx configuration nginx itself accepts, sticky on the app's own
visitor cookie, and a run folder whose Procfile starts every part without holding a secret."""

import contextlib
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.visitors.identity import COOKIE_NAME
from deploy.nginx import (
    NginxUnavailableError,
    nginx_command,
    render_nginx_config,
    write_nginx_config,
)
from deploy.processes import COOKIE_SECRET_VARIABLE
from scripts.class_server import write_run_folder
from testkit.harness import free_port
from testkit.jobs import wait_until


def test_nginx_accepts_the_configuration_and_keeps_sessions_on_the_visitor_cookie(tmp_path):
    config = write_nginx_config(tmp_path / "run", "127.0.0.1:8501", [8502, 8503], 20)
    text = config.read_text()
    assert f"map $cookie_{COOKIE_NAME} $mnist_studio_sticky_key" in text
    assert "hash $mnist_studio_sticky_key consistent;" in text
    assert "server 127.0.0.1:8502 max_fails=1" in text
    assert "server 127.0.0.1:8503 max_fails=1" in text
    assert "client_max_body_size 21m;" in text  # max_upload_mb + 1 on the upload route
    assert re.search(r"@[A-Z_]+@", text) is None  # every field filled in
    try:
        command = nginx_command(config)
    except NginxUnavailableError:
        pytest.skip("nginx is not installed (scripts/ensure_nginx.sh)")
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr


def test_nginx_needs_an_app_process():
    with pytest.raises(ValueError, match="at least one app process"):
        render_nginx_config(Path("/nonexistent"), "8501", [], 20)


def test_the_run_folder_starts_every_part_and_keeps_the_secret_out_of_the_procfile(tmp_path):
    database_url = "postgresql+psycopg://mnist:pw@db.example.com:5432/studio"
    procfile, env_file = write_run_folder(tmp_path, 3, "8501", database_url, ray=True)
    lines = dict(line.split(": ", 1) for line in procfile.read_text().splitlines())
    assert sorted(lines) == ["app1", "app2", "app3", "nginx", "ray"]  # no local PostgreSQL
    assert all("streamlit run streamlit_app.py" in lines[f"app{n}"] for n in (1, 2, 3))
    assert "--block" in lines["ray"]
    environment = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
    assert environment["MNIST_STUDIO_DATABASE_URL"] == database_url
    assert len(environment[COOKIE_SECRET_VARIABLE]) >= 40
    assert environment["MNIST_STUDIO_RAY_ADDRESS"].startswith("127.0.0.1:")
    assert environment["MNIST_STUDIO_APP_PROCESSES"] == "3"  # They split Ray's CPUs.
    # A room behind one address: 200 learners with two tabs each may connect.
    assert environment["MNIST_STUDIO_MAX_SESSIONS_PER_ADDRESS"] == "400"
    assert environment[COOKIE_SECRET_VARIABLE] not in procfile.read_text()
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    ports = [int(lines[f"app{n}"].split("--server.port ")[1].split()[0]) for n in (1, 2, 3)]
    nginx_config = (tmp_path / "nginx.conf").read_text()
    assert all(f"server 127.0.0.1:{port} " in nginx_config for port in ports)


def test_honcho_keeps_the_class_up_when_an_app_process_exits_and_ctrl_c_stops_it_all(
    tmp_path, monkeypatch
):
    """A crashed app process starts again (honcho alone would stop every part), and Ctrl-C
    (SIGINT to honcho's process group, as a terminal sends it) still ends every part."""
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        pytest.fail("nginx is missing: `make test` installs it (scripts/ensure_nginx.sh)")
    starts = tmp_path / "starts"
    # Each "app process" notes its start, then crashes at once.
    monkeypatch.setattr(
        "scripts.class_server.app_command",
        lambda port: ["sh", "-c", f"echo {port} >> {starts}; exit 3"],
    )
    monkeypatch.delenv("MNIST_STUDIO_DEMO_MODE", raising=False)
    database_url = "postgresql+psycopg://mnist:pw@db.example.com:5432/studio"
    procfile, env_file = write_run_folder(tmp_path, 2, str(free_port()), database_url, ray=False)
    assert "MNIST_STUDIO_DEMO_MODE=1" in env_file.read_text()  # each browser its own runs
    honcho = str(Path(sys.executable).parent / "honcho")
    manager = subprocess.Popen(
        [honcho, "-f", str(procfile), "-e", str(env_file), "-d", str(tmp_path), "start"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        # Both lines crash every ~2 s and start again; honcho and nginx stay up.
        wait_until(lambda: len(starts.read_text().split()) >= 6 if starts.exists() else False)
        assert manager.poll() is None
        assert len(set(starts.read_text().split())) == 2  # both app lines, each many times
        nginx_pid = int((tmp_path / "nginx.pid").read_text())
        os.kill(nginx_pid, 0)  # alive
        os.killpg(manager.pid, signal.SIGINT)
        output, _ = manager.communicate(timeout=30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(manager.pid, signal.SIGKILL)
    assert "starting it again in 2 s" in output
    wait_until(lambda: not Path(f"/proc/{nginx_pid}").exists(), timeout=10)
    counted = len(starts.read_text().split())
    time.sleep(3)  # longer than the restart delay: nothing starts again after Ctrl-C
    assert len(starts.read_text().split()) == counted
