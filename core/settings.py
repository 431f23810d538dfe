"""Settings of MNIST Studio, read from environment variables or `.streamlit/secrets.toml`.

A setting named ``data_dir`` is read from the environment variable ``MNIST_STUDIO_DATA_DIR``
first, then from the key ``data_dir`` in ``.streamlit/secrets.toml``. Streamlit is not
imported here, so the same settings apply to scripts, tests and benchmarks.
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, overload

from core.bounds import (
    MAX_BATCH_SIZE,
    MAX_CONV_BLOCKS,
    MAX_CONV_FILTERS,
    MAX_EPOCHS,
    MAX_HIDDEN_LAYERS,
    MAX_NEURONS,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SECRETS_FILE = PROJECT_ROOT / ".streamlit" / "secrets.toml"

DEFAULT_MAX_CONCURRENT_JOBS = 2
DEFAULT_MAX_SWEEP_SIZE = 24


@lru_cache(maxsize=4)
def _read_secrets(path: Path) -> dict:
    """Return the parsed secrets file, or an empty dict when it is missing or unreadable."""
    try:
        with path.open("rb") as secrets_file:
            return tomllib.load(secrets_file)
    except (OSError, tomllib.TOMLDecodeError):
        return {}


@overload
def get_setting(name: str, default: str) -> str: ...


@overload
def get_setting(name: str, default: None = None) -> str | None: ...


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


def environment_settings() -> dict[str, str]:
    """Return the settings given as ``MNIST_STUDIO_*`` environment variables (name: value).

    Used to hand the same settings to processes started elsewhere, e.g. Ray workers.
    """
    return {name: value for name, value in os.environ.items() if name.startswith("MNIST_STUDIO_")}


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


def database_url() -> str | None:
    """Return the ``database_url`` setting: a PostgreSQL server's URL, or None for SQLite.

    Unset, runs are kept in a SQLite file in `runs_dir` (what ``make run`` does). Set to
    ``postgresql+psycopg://user:password@host:5432/database``, every record, model file,
    current model and job state is kept on that server, which many app processes share
    (see ``core.runs.engine``).
    """
    return (get_setting("database_url") or "").strip() or None


def max_concurrent_jobs() -> int:
    """Return how many training jobs may run at once (default 2)."""
    return limits().max_concurrent_jobs


def app_processes() -> int:
    """Return how many app processes share this one's database and Ray cluster (default 1).

    `make class` sets it (``MNIST_STUDIO_APP_PROCESSES``) for each process it starts; a value
    that is not a whole number from 1 to 64 counts as 1.
    """
    try:
        value = int(get_setting("app_processes", "1"))
    except ValueError:
        return 1
    return value if 1 <= value <= 64 else 1


def demo_mode() -> bool:
    """Return True when the public-demo profile is switched on."""
    return (get_setting("demo_mode", "") or "").lower() in {"1", "true", "yes", "on"}


class SizedConfig(Protocol):
    """What `Limits.check` reads of a `core.nn.config.TrainingConfig` (a higher layer)."""

    @property
    def architecture(self) -> str: ...

    @property
    def hidden_layers(self) -> tuple[int, ...]: ...

    @property
    def conv_filters(self) -> tuple[int, ...]: ...

    @property
    def epochs(self) -> int: ...

    @property
    def batch_size(self) -> int: ...

    @property
    def train_size(self) -> int | None: ...


@dataclass(frozen=True)
class Limits:
    """Caps on what a visitor may ask for: generous locally, tight in the public demo.

    Attributes:
        max_epochs: Epochs per training.
        max_neurons: Neurons per hidden layer.
        max_layers: Hidden layers.
        max_train_size: Training images per run (None: all of them).
        max_sweep_size: Configurations per sweep.
        max_concurrent_jobs: Jobs that run at once in the whole app.
        max_jobs_per_visitor: Jobs one visitor (one browser, see core/visitors/identity.py) may have
            running or queued (None: any).
        max_jobs_per_address: Jobs the visitors of one network address may have running or
            queued together, so clearing cookies does not multiply a visitor (None: any).
        max_queue: Jobs that may wait in the app's queue; past it a visitor is told to wait.
        max_sessions_per_address: Open app sessions (tabs) one public network address may
            hold at once; one more is refused until one closes (None: any; see
            `core.visitors.identity.SessionsPerAddressMiddleware`).
        max_upload_mb: Size of each uploaded dataset file, in megabytes.
        max_upload_images: Images (training and test together) in an uploaded dataset
            (None: any).
        max_runs: Stored runs kept; older ones are pruned (None: all).
        max_run_age_days: Stored runs older than this are pruned (None: never).
        max_runs_per_visitor: Stored runs kept per visitor; their own oldest go first (None: all).
        max_store_bytes: Bytes of model files the run store keeps in all (None: any).
        max_bytes_per_visitor: Bytes of model files kept per visitor (None: any).
        max_model_bytes: Bytes of one run's model file; a larger model is refused before
            anything is stored (None: any; see `core.runs.model_blobs` and bench/README.md,
            "Model files in PostgreSQL").
        protected_runs_per_visitor: Each visitor's newest runs that no one else's runs can
            push out of the store (None: none; see `core.runs.pruning`).
        protected_runs_per_address: At most this many runs protected per network address
            (an IPv6 /64 counts as one), visitors who saved first served first (None: any).
        max_runs_per_address_per_day: Runs kept from one network address (or, without a
            public one, one visitor) in 24 hours; more are refused (None: any).
        runs_per_session: Whether each browser session sees only its own runs.
        max_batch_size: Images per gradient step.
        max_conv_filters: Filters per convolutional block.
        max_conv_blocks: Convolutional blocks.
        max_total_flops: Operations one training may cost, FLOPs per image x images x
            epochs (None: any; see `core.nn.budget`).
        max_job_seconds: Wall-clock seconds after which a job stops itself (None: never).
        max_import_parameters: Parameters of an imported Keras model.
        max_import_flops: Operations per image (forward pass) of an imported Keras model.
        memory_budget_mb: Megabytes of memory the server keeps for what all visitors hold
            together (uploaded files and datasets, decoded pictures; `core.visitors.memory_budget`);
            past it the oldest are released. Each session may hold uploaded files of at most
            `SESSION_UPLOAD_FILES` times `max_upload_mb`.
    """

    # Locally, the caps are the configuration's own bounds (core.bounds).
    max_epochs: int = MAX_EPOCHS
    max_neurons: int = MAX_NEURONS
    max_layers: int = MAX_HIDDEN_LAYERS
    max_train_size: int | None = None
    max_sweep_size: int = DEFAULT_MAX_SWEEP_SIZE
    max_concurrent_jobs: int = DEFAULT_MAX_CONCURRENT_JOBS
    max_jobs_per_visitor: int | None = None
    max_jobs_per_address: int | None = None
    max_queue: int | None = 100
    max_sessions_per_address: int | None = None
    max_upload_mb: int = 100
    max_upload_images: int | None = None
    max_runs: int | None = None
    max_run_age_days: float | None = None
    max_runs_per_visitor: int | None = None
    max_store_bytes: int | None = None
    max_bytes_per_visitor: int | None = None
    max_model_bytes: int | None = None
    protected_runs_per_visitor: int | None = None
    protected_runs_per_address: int | None = None
    max_runs_per_address_per_day: int | None = None
    runs_per_session: bool = False
    max_batch_size: int = MAX_BATCH_SIZE
    max_conv_filters: int = MAX_CONV_FILTERS
    max_conv_blocks: int = MAX_CONV_BLOCKS
    max_total_flops: float | None = None
    max_job_seconds: float | None = None
    max_import_parameters: int = 25_000_000
    max_import_flops: float = 2e9
    memory_budget_mb: int = 4096

    def check(self, config: SizedConfig) -> None:
        """Raise ValueError if a `core.nn.config.TrainingConfig` asks for more than allowed.

        Args:
            config: The training configuration.

        Raises:
            ValueError: With a sentence naming the limit and what to change.
        """
        where = "this demo" if self.runs_per_session else "this app"
        if config.epochs > self.max_epochs:
            raise ValueError(
                f"{where.capitalize()} trains at most {self.max_epochs} epochs; "
                f"choose {self.max_epochs} or fewer."
            )
        if len(config.hidden_layers) > self.max_layers:
            raise ValueError(
                f"{where.capitalize()} allows at most {self.max_layers} hidden layers; remove some."
            )
        if config.hidden_layers and max(config.hidden_layers) > self.max_neurons:
            raise ValueError(
                f"{where.capitalize()} allows at most {self.max_neurons} neurons "
                "per layer; choose fewer."
            )
        if self.max_train_size is not None and (
            config.train_size is None or config.train_size > self.max_train_size
        ):
            raise ValueError(
                f"{where.capitalize()} trains on at most "
                f"{self.max_train_size:,} images; set the training-set size."
            )
        if config.batch_size > self.max_batch_size:
            raise ValueError(
                f"{where.capitalize()} trains with at most {self.max_batch_size:,} images per "
                "batch; choose a smaller batch size."
            )
        if config.architecture == "cnn" and len(config.conv_filters) > self.max_conv_blocks:
            raise ValueError(
                f"{where.capitalize()} allows at most {self.max_conv_blocks} convolutional "
                "blocks; remove some."
            )
        if config.architecture == "cnn" and max(config.conv_filters) > self.max_conv_filters:
            raise ValueError(
                f"{where.capitalize()} allows at most {self.max_conv_filters} filters per "
                "convolutional block; choose fewer."
            )


DEMO_LIMITS = Limits(
    max_epochs=30,
    max_neurons=512,
    max_layers=4,
    max_train_size=None,
    max_sweep_size=6,
    max_concurrent_jobs=2,
    max_jobs_per_visitor=6,
    max_jobs_per_address=12,
    max_queue=24,
    max_sessions_per_address=50,
    max_upload_mb=20,
    max_upload_images=70_000,
    max_runs=200,
    max_run_age_days=7.0,
    max_runs_per_visitor=20,
    max_store_bytes=2 * 1024**3,
    max_bytes_per_visitor=256 * 1024**2,
    max_model_bytes=64 * 1024**2,
    protected_runs_per_visitor=5,
    protected_runs_per_address=20,
    max_runs_per_address_per_day=100,
    runs_per_session=True,
    max_batch_size=512,
    max_conv_filters=64,
    max_conv_blocks=3,
    max_total_flops=1e13,
    max_job_seconds=900.0,
    max_import_parameters=5_000_000,
    max_import_flops=5e7,
    memory_budget_mb=512,
)

# Files one session may hold uploaded at once, each of up to `max_upload_mb` (Explore's four
# dataset files); `session_upload_bytes` is the bound the upload route enforces.
SESSION_UPLOAD_FILES = 4


def session_upload_bytes(limits_in_force: Limits) -> int:
    """Bytes of uploaded files one browser session may hold at once."""
    return SESSION_UPLOAD_FILES * limits_in_force.max_upload_mb * 1024 * 1024


# Limits read as decimal numbers (the others are whole numbers).
DECIMAL_LIMITS = frozenset(
    {"max_run_age_days", "max_total_flops", "max_job_seconds", "max_import_flops"}
)


def limits() -> Limits:
    """Return the limits in force: `DEMO_LIMITS` in demo mode, generous ones otherwise.

    Each cap can be changed with a setting of the same name (e.g. ``max_epochs``, or
    ``MNIST_STUDIO_MAX_EPOCHS`` in the environment).
    """
    base = DEMO_LIMITS if demo_mode() else Limits()
    overrides: dict[str, Any] = {}
    for name in vars(base):
        if name == "runs_per_session":
            continue
        value = get_setting(name)
        if value is None:
            continue
        try:
            number = float(value) if name in DECIMAL_LIMITS else int(value)
        except ValueError:
            continue
        if number > 0 and math.isfinite(number):
            overrides[name] = number
    return replace(base, **overrides)


PRECISION_CHOICES = ("auto", "float32", "bfloat16")


def precision() -> str:
    """Return the ``precision`` setting: "auto" (default), "float32" or "bfloat16".

    "auto" trains the convolutional front in bfloat16 where the CPU has native bfloat16
    support and in float32 elsewhere (see `core.nn.precision`); the other two force a choice.
    An unknown value counts as "auto".
    """
    value = (get_setting("precision", "auto") or "auto").lower()
    return value if value in PRECISION_CHOICES else "auto"
