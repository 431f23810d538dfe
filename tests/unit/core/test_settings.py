"""Settings and limits: environment first, secrets file second; demo caps and their checks."""

import pytest

from core import settings
from core.nn.config import TrainingConfig


@pytest.fixture
def secrets_file(tmp_path, monkeypatch):
    path = tmp_path / "secrets.toml"
    monkeypatch.setattr(settings, "SECRETS_FILE", path)
    settings._read_secrets.cache_clear()
    yield path
    settings._read_secrets.cache_clear()


def test_environment_wins_over_the_secrets_file(secrets_file, monkeypatch):
    secrets_file.write_text('data_dir = "/from/secrets"\nclass_names = "a, b ,c"\n')
    assert settings.data_dir().as_posix() == "/from/secrets"
    assert settings.class_names() == ("a", "b", "c")
    monkeypatch.setenv("MNIST_STUDIO_DATA_DIR", "relative/folder")
    assert settings.data_dir() == settings.PROJECT_ROOT / "relative/folder"


def test_a_broken_secrets_file_falls_back_to_defaults(secrets_file):
    secrets_file.write_text("this is = = not toml")
    assert settings.data_dir() == settings.PROJECT_ROOT / "data/mnist"
    assert settings.demo_mode() is False


def test_local_limits_are_the_configuration_bounds(secrets_file):
    limits = settings.limits()
    assert (limits.max_epochs, limits.max_neurons, limits.max_layers) == (200, 2048, 8)
    assert limits.runs_per_session is False and limits.max_runs is None
    limits.check(TrainingConfig(hidden_layers=(2048,) * 8, epochs=200))


def test_demo_mode_tightens_the_limits_and_checks_say_what_to_change(secrets_file, monkeypatch):
    monkeypatch.setenv("MNIST_STUDIO_DEMO_MODE", "1")
    limits = settings.limits()
    assert limits.runs_per_session and limits.max_epochs == 30 and limits.max_runs == 200
    assert limits.max_runs_per_visitor == 20 and limits.max_store_bytes == 2 * 1024**3
    assert limits.max_bytes_per_visitor == 256 * 1024**2
    limits.check(TrainingConfig(hidden_layers=(512,) * 4, epochs=30))
    with pytest.raises(ValueError, match="at most 30 epochs; choose 30 or fewer"):
        limits.check(TrainingConfig(epochs=31))
    with pytest.raises(ValueError, match="at most 512 neurons"):
        limits.check(TrainingConfig(hidden_layers=(513,)))
    with pytest.raises(ValueError, match="at most 4 hidden layers"):
        limits.check(TrainingConfig(hidden_layers=(8,) * 5))


def test_each_cap_can_be_set_and_junk_is_ignored(secrets_file, monkeypatch):
    monkeypatch.setenv("MNIST_STUDIO_DEMO_MODE", "yes")
    monkeypatch.setenv("MNIST_STUDIO_MAX_EPOCHS", "5")
    monkeypatch.setenv("MNIST_STUDIO_MAX_TRAIN_SIZE", "1000")
    monkeypatch.setenv("MNIST_STUDIO_MAX_NEURONS", "lots")
    monkeypatch.setenv("MNIST_STUDIO_MAX_CONCURRENT_JOBS", "-3")
    limits = settings.limits()
    assert (limits.max_epochs, limits.max_train_size) == (5, 1000)
    assert limits.max_neurons == 512 and limits.max_concurrent_jobs == 2
    assert settings.max_concurrent_jobs() == 2
    with pytest.raises(ValueError, match="at most 1,000 images"):
        limits.check(TrainingConfig(epochs=5))
    limits.check(TrainingConfig(epochs=5, train_size=1000))


def test_each_profile_has_the_documented_caps(secrets_file):
    # The README lists these demo defaults; the local ones are the configuration's bounds.
    assert settings.limits() == settings.Limits(
        max_epochs=200,
        max_neurons=2048,
        max_layers=8,
        max_train_size=None,
        max_sweep_size=24,
        max_concurrent_jobs=2,
        max_jobs_per_visitor=None,
        max_jobs_per_address=None,
        max_queue=100,
        max_sessions_per_address=None,
        max_upload_mb=100,
        max_upload_images=None,
        max_runs=None,
        max_run_age_days=None,
        max_runs_per_visitor=None,
        max_store_bytes=None,
        max_bytes_per_visitor=None,
        max_model_bytes=None,
        protected_runs_per_visitor=None,
        protected_runs_per_address=None,
        max_runs_per_address_per_day=None,
        runs_per_session=False,
        max_batch_size=60_000,
        max_conv_filters=512,
        max_conv_blocks=4,
        max_total_flops=None,
        max_job_seconds=None,
        max_import_parameters=25_000_000,
        max_import_flops=2e9,
        memory_budget_mb=4096,
    )
    secrets_file.write_text('demo_mode = "1"\n')
    settings._read_secrets.cache_clear()
    assert settings.limits() == settings.Limits(
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
        max_store_bytes=2 * 2**30,
        max_bytes_per_visitor=256 * 2**20,
        max_model_bytes=64 * 2**20,
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


def test_caps_take_fractional_days_and_ignore_zero_and_the_profile_switch(
    secrets_file, monkeypatch
):
    monkeypatch.setenv("MNIST_STUDIO_MAX_RUN_AGE_DAYS", "0.5")
    monkeypatch.setenv("MNIST_STUDIO_MAX_EPOCHS", "0")
    monkeypatch.setenv("MNIST_STUDIO_MAX_RUNS", "-5")
    # Whether visitors see only their own runs comes with demo_mode, not a setting of its own.
    monkeypatch.setenv("MNIST_STUDIO_RUNS_PER_SESSION", "1")
    limits = settings.limits()
    assert limits.max_run_age_days == 0.5
    assert limits.max_epochs == 200 and limits.max_runs is None
    assert limits.runs_per_session is False


@pytest.mark.parametrize(
    ("value", "expected"), [(None, 1), ("3", 3), ("0", 1), ("65", 1), ("two", 1), ("-2", 1)]
)
def test_app_processes_is_a_small_whole_number(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("MNIST_STUDIO_APP_PROCESSES", raising=False)
    else:
        monkeypatch.setenv("MNIST_STUDIO_APP_PROCESSES", value)
    assert settings.app_processes() == expected
