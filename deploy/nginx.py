"""Write the nginx configuration that puts several MNIST Studio processes behind one port.

The configuration is `deploy/nginx.conf.template` with its ``@FIELD@`` placeholders filled in: the
app processes' ports, the public address, the upload cap and the run folder that holds what
nginx writes. `scripts/class_server.py` (``make class``) and `testkit/cluster.py` (the
failover test) both write it here, so the test exercises the configuration users run.

Example:
    config = write_nginx_config(Path(".class"), listen="8501", app_ports=[8502, 8503],
                                max_upload_mb=100)
    subprocess.run(nginx_command(config))  # in the foreground until stopped
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

TEMPLATE = Path(__file__).with_name("nginx.conf.template")
# A process that refuses one connection is left out this long (passive health check).
FAIL_TIMEOUT_SECONDS = 10
NGINX_CANDIDATES = ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx")
TEMP_FOLDER = "nginx-temp"
ACCESS_LOG = "nginx-access.log"
ERROR_LOG = "nginx-error.log"


class NginxUnavailableError(RuntimeError):
    """nginx is not installed (run scripts/ensure_nginx.sh)."""


def nginx_binary() -> str:
    """Return the nginx program: the one on the PATH, else Debian's /usr/sbin/nginx.

    Raises:
        NginxUnavailableError: If nginx is not installed.
    """
    found = shutil.which("nginx")
    if found:
        return found
    for candidate in NGINX_CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    raise NginxUnavailableError(
        "nginx is not installed: run scripts/ensure_nginx.sh (Debian's nginx-light package)."
    )


def render_nginx_config(
    run_dir: Path, listen: str, app_ports: Sequence[int], max_upload_mb: int
) -> str:
    """Return the configuration text for app processes on 127.0.0.1 at `app_ports`.

    Args:
        run_dir: The folder for nginx's pid file, logs and temporary files (absolute).
        listen: What nginx listens on: a port (``"8501"``, every interface) or
            ``"127.0.0.1:8501"``.
        app_ports: The ports of the app processes, on 127.0.0.1.
        max_upload_mb: The app's `max_upload_mb`; the upload route takes one more megabyte.

    Raises:
        ValueError: If there is no app port or the upload cap is not positive.
    """
    if not app_ports:
        raise ValueError("nginx needs at least one app process to send visitors to.")
    if max_upload_mb < 1:
        raise ValueError(f"max_upload_mb must be at least 1, not {max_upload_mb}.")
    servers = "\n".join(
        f"        server 127.0.0.1:{port} max_fails=1 fail_timeout={FAIL_TIMEOUT_SECONDS}s;"
        for port in app_ports
    )
    fields = {
        "@RUN_DIR@": str(Path(run_dir).resolve()),
        "@LISTEN@": listen,
        "@UPSTREAM_SERVERS@": servers,
        "@UPLOAD_BODY_MB@": str(max_upload_mb + 1),
    }
    text = TEMPLATE.read_text(encoding="utf-8")
    for name, value in fields.items():
        text = text.replace(name, value)
    return text


def write_nginx_config(
    run_dir: Path, listen: str, app_ports: Sequence[int], max_upload_mb: int
) -> Path:
    """Write `run_dir/nginx.conf` (see `render_nginx_config`) and the folders it names.

    Returns:
        The configuration file's path.
    """
    run_dir = Path(run_dir).resolve()
    (run_dir / TEMP_FOLDER).mkdir(parents=True, exist_ok=True)
    config = run_dir / "nginx.conf"
    config.write_text(render_nginx_config(run_dir, listen, app_ports, max_upload_mb))
    return config


def nginx_command(config: Path) -> list[str]:
    """Return the command that runs nginx on `config` in the foreground (``daemon off``).

    Its start-up messages go to the run folder's error log too, not to /var/log/nginx.
    """
    run_dir = config.parent
    return [
        nginx_binary(), "-p", str(run_dir), "-c", str(config),
        "-e", str(run_dir / ERROR_LOG),
    ]  # fmt: skip
