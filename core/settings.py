"""Settings of MNIST Studio, read from environment variables or `.streamlit/secrets.toml`.

A setting named ``data_dir`` is read from the environment variable ``MNIST_STUDIO_DATA_DIR``
first, then from the key ``data_dir`` in ``.streamlit/secrets.toml``. Streamlit is not
imported here, so the same settings apply to scripts, tests and benchmarks.
"""

from __future__ import annotations

import os
import tomllib
from functools import lru_cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SECRETS_FILE = PROJECT_ROOT / ".streamlit" / "secrets.toml"

DEFAULT_MAX_CONCURRENT_JOBS = 2


@lru_cache(maxsize=4)
def _read_secrets(path: Path) -> dict:
    """Return the parsed secrets file, or an empty dict when it is missing or unreadable."""
    try:
        with path.open("rb") as secrets_file:
            return tomllib.load(secrets_file)
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def get_setting(name: str, default: str | None = None) -> str | None:
    """Return a setting's value as text.

    Args:
        name: The setting's name, e.g. ``"data_dir"``.
        default: What to return when the setting is set nowhere.

    Returns:
        The value of ``MNIST_STUDIO_<NAME>`` if set, else the secrets file's ``<name>`` key,
        else ``default``.
    """
    value = os.environ.get(f"MNIST_STUDIO_{name.upper()}")
    if value is not None and value.strip():
        return value.strip()
    value = _read_secrets(SECRETS_FILE).get(name.lower())
    if value is None:
        return default
    return str(value)


def _resolve(path_text: str) -> Path:
    path = Path(path_text).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


def data_dir() -> Path:
    """Return the folder of IDX files the app loads (the bundled MNIST by default)."""
    return _resolve(get_setting("data_dir", "data/mnist"))


def class_names() -> tuple[str, ...] | None:
    """Return class names set with ``class_names`` (comma separated), or None for digits."""
    names = get_setting("class_names")
    if not names:
        return None
    return tuple(name.strip() for name in names.split(",") if name.strip())


def runs_dir() -> Path:
    """Return the folder that holds the run store (SQLite file and model files)."""
    return _resolve(get_setting("runs_dir", "runs"))


def _int_setting(name: str, default: int, minimum: int = 1) -> int:
    try:
        return max(minimum, int(get_setting(name, str(default))))
    except ValueError:
        return default


def max_concurrent_jobs() -> int:
    """Return how many training jobs may run at once (default 2)."""
    return _int_setting("max_concurrent_jobs", DEFAULT_MAX_CONCURRENT_JOBS)


def demo_mode() -> bool:
    """Return True when the public-demo profile is switched on."""
    return (get_setting("demo_mode", "") or "").lower() in {"1", "true", "yes", "on"}
