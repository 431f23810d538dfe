"""`make class`: several MNIST Studio processes behind nginx on this machine, for a try-out.

Writes the run folder (`.class/`, git-ignored): nginx's configuration (`deploy/nginx.py`), a
Procfile and the environment all processes share (`.env`: one Streamlit cookie secret, the
PostgreSQL store, the Ray cluster), then hands over to honcho (`honcho start`), which starts
every line of the Procfile, prefixes their output with their names and stops them all on
Ctrl-C. Without ``MNIST_STUDIO_DATABASE_URL`` a local PostgreSQL is one of those lines; its
data is kept between try-outs (in `.class/postgres`, or as root in the ``postgres`` user's
home, since ``initdb`` refuses root).

Usage (from the project root):
    python -m scripts.class_server --processes 2 --port 8501 [--host 127.0.0.1] [--ray]
"""

from __future__ import annotations

import argparse
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from core import settings
from deploy.nginx import nginx_command, write_nginx_config
from deploy.processes import app_command, new_cookie_secret, shared_environment

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RUN_DIR = PROJECT_ROOT / ".class"
POSTGRES_BIN_FOLDERS = ("/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin",
                        "/usr/lib/postgresql/15/bin")  # fmt: skip


@dataclass(frozen=True)
class LocalPostgres:
    """The try-out's own PostgreSQL server: how to run it and how to wait for it."""

    url: str
    command: list[str]
    ready_check: list[str]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def postgres_bin() -> Path:
    """The folder with PostgreSQL's server programs (Debian's postgresql-15 or later).

    Raises:
        SystemExit: If none is installed, with what to do.
    """
    for folder in POSTGRES_BIN_FOLDERS:
        if (Path(folder) / "initdb").is_file():
            return Path(folder)
    raise SystemExit(
        "No PostgreSQL server is installed: run scripts/ensure_postgres.sh, or set "
        "MNIST_STUDIO_DATABASE_URL to a PostgreSQL database the app processes can share."
    )


def local_postgres(run_dir: Path) -> LocalPostgres:
    """Make (once) the try-out's PostgreSQL cluster; return how to run it on a free port."""
    programs = postgres_bin()
    as_root = os.geteuid() == 0
    if as_root:
        folder = Path(pwd.getpwnam("postgres").pw_dir) / "mnist-studio-class"
        run_as = ["runuser", "-u", "postgres", "--"]
    else:
        folder, run_as = run_dir / "postgres", []
    if not (folder / "data" / "PG_VERSION").is_file():
        subprocess.run(
            [*run_as, "mkdir", "-p", str(folder)], check=True, capture_output=True, text=True
        )
        subprocess.run(
            [*run_as, str(programs / "initdb"), "-D", str(folder / "data"), "-U", "postgres",
             "-A", "trust", "-E", "UTF8", "--locale", "C"],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
    port = free_port()
    command = [
        *run_as, str(programs / "postgres"), "-D", str(folder / "data"), "-p", str(port),
        "-k", str(folder), "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200",
    ]  # fmt: skip
    return LocalPostgres(
        url=f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres",
        command=command,
        ready_check=[
            str(programs / "pg_isready"),
            "-q",
            "-U",
            "postgres",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],  # fmt: skip
    )


def app_line(port: int, ready_check: list[str] | None) -> str:
    """The Procfile command of one app process, started again whenever it exits.

    honcho stops every part when one exits and has no restart of its own, so a crashed app
    process would take the class down: the line keeps it running instead (its visitors reach
    another process meanwhile, after one reload), and honcho's Ctrl-C still stops it, by
    signalling the line's whole process group. With a local PostgreSQL it waits for it first.
    """
    command = shlex.join(app_command(port))
    restarting = shlex.quote(
        f"app process on port {port} exited: starting it again in 2 s (Ctrl-C stops everything)"
    )
    keep_running = f"while :; do {command}; echo {restarting}; sleep 2; done"
    if ready_check is None:
        return keep_running
    return f"until {shlex.join(ready_check)}; do sleep 0.5; done; {keep_running}"


def write_run_folder(
    run_dir: Path,
    processes: int,
    listen: str,
    database_url: str | None,
    ray: bool,
) -> tuple[Path, Path]:
    """Write nginx.conf, the Procfile and .env for `processes` app processes.

    Args:
        run_dir: The run folder (created if missing).
        processes: How many app processes.
        listen: What nginx listens on: a port, or ``host:port``.
        database_url: The shared store, or None for a local PostgreSQL started with the rest.
        ray: Start a Ray head with the rest and run every job on it.

    Returns:
        The Procfile's and the environment file's paths.
    """
    if processes < 1:
        raise ValueError(f"At least one app process is needed, not {processes}.")
    run_dir.mkdir(parents=True, exist_ok=True)
    lines: dict[str, str] = {}
    ready_check = None
    if database_url is None:
        postgres = local_postgres(run_dir)
        database_url, ready_check = postgres.url, postgres.ready_check
        lines["postgres"] = shlex.join(postgres.command)
    ray_address = None
    if ray:
        ray_port = free_port()
        ray_address = f"127.0.0.1:{ray_port}"
        ray_program = str(Path(sys.executable).parent / "ray")
        lines["ray"] = shlex.join([
            ray_program, "start", "--head", "--block", "--node-ip-address", "127.0.0.1",
            "--port", str(ray_port), "--include-dashboard=false", "--disable-usage-stats",
        ])  # fmt: skip
    ports = [free_port() for _ in range(processes)]
    for number, port in enumerate(ports, start=1):
        lines[f"app{number}"] = app_line(port, ready_check)
    config = write_nginx_config(run_dir, listen, ports, settings.limits().max_upload_mb)
    lines["nginx"] = shlex.join(nginx_command(config))

    procfile = run_dir / "Procfile"
    procfile.write_text("".join(f"{name}: {command}\n" for name, command in lines.items()))
    environment = shared_environment(new_cookie_secret(), database_url, ray_address, processes)
    if settings.get_setting("demo_mode") is None:
        # A class is many visitors: each sees only their own runs, under the demo's caps,
        # unless the teacher set demo_mode themselves.
        environment["MNIST_STUDIO_DEMO_MODE"] = "1"
    if settings.get_setting("max_sessions_per_address") is None:
        # A room shares one network address: the demo's 50 sessions would be a class of 25
        # with two tabs each. Each visitor's own caps still hold.
        environment["MNIST_STUDIO_MAX_SESSIONS_PER_ADDRESS"] = str(CLASS_SESSIONS_PER_ADDRESS)
    if ray:
        environment["RAY_AUTH_MODE"] = "token"  # as Ray 2.60 asks (README)
    env_file = run_dir / ".env"
    env_file.touch(mode=0o600)
    env_file.chmod(0o600)  # it holds the cookie secret and maybe a database password
    env_file.write_text("".join(f"{name}={value}\n" for name, value in environment.items()))
    return procfile, env_file


CLASS_SESSIONS_PER_ADDRESS = 400


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=2, help="app processes (default 2)")
    parser.add_argument("--port", type=int, default=8501, help="nginx's port (default 8501)")
    parser.add_argument("--host", default="", help="nginx's address (default: every interface)")
    parser.add_argument("--ray", action="store_true", help="run every job on a local Ray head")
    arguments = parser.parse_args(argv)
    listen = f"{arguments.host}:{arguments.port}" if arguments.host else str(arguments.port)
    procfile, env_file = write_run_folder(
        RUN_DIR, arguments.processes, listen, settings.database_url(), arguments.ray
    )
    honcho = shutil.which("honcho") or str(Path(sys.executable).parent / "honcho")
    address = arguments.host or socket.gethostname()
    print(f"MNIST Studio: {arguments.processes} app processes behind nginx ({procfile}).\n"
          f"The class's link: http://{address}:{arguments.port}  (the app processes' own "
          "ports in the log below are not for visitors)\nCtrl-C stops everything.",
          flush=True)  # fmt: skip
    command = [honcho, "-f", str(procfile), "-e", str(env_file), "-d", str(PROJECT_ROOT), "start"]
    os.execv(honcho, command)


if __name__ == "__main__":
    main()
