"""The app processes behind nginx: the command that starts one, and what they must share.

Every process runs `streamlit run streamlit_app.py` (its middleware gives each browser the
visitor cookie that nginx keeps sessions on) on 127.0.0.1, and all of them share the run
store's database and Streamlit's cookie secret: Streamlit signs its own cookies (its session
cookie, and `st.login`'s user cookie) with that secret, and each process would otherwise pick
its own at random, so a visitor moved to another process would carry cookies it cannot read.
"""

from __future__ import annotations

import secrets
import sys

COOKIE_SECRET_VARIABLE = "STREAMLIT_SERVER_COOKIE_SECRET"


def new_cookie_secret() -> str:
    """Return a new random secret for Streamlit's `server.cookieSecret`."""
    return secrets.token_urlsafe(32)


def app_command(port: int, python: str = sys.executable) -> list[str]:
    """Return the command that starts one app process on 127.0.0.1:`port`, headless."""
    return [
        python, "-m", "streamlit", "run", "streamlit_app.py",
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip


def shared_environment(
    cookie_secret: str, database_url: str, ray_address: str | None = None, processes: int = 1
) -> dict[str, str]:
    """Return the environment every app process behind one nginx must share.

    Args:
        cookie_secret: From `new_cookie_secret`, the same for all processes.
        database_url: The PostgreSQL store all processes keep runs, jobs and caps in.
        ray_address: The Ray cluster jobs run on, or None for each process's own threads.
        processes: How many app processes there are (they split the Ray cluster's CPUs).
    """
    environment = {
        COOKIE_SECRET_VARIABLE: cookie_secret,
        "MNIST_STUDIO_DATABASE_URL": database_url,
        "MNIST_STUDIO_APP_PROCESSES": str(processes),
    }
    if ray_address is not None:
        environment["MNIST_STUDIO_RAY_ADDRESS"] = ray_address
    return environment
