"""Training budgets (issue 12, finding 4): caps, operations, memory estimate, time limit."""

import dataclasses
import threading

import pytest

from core import settings
from core.data.splits import make_splits
from core.jobs import JobManager, JobState
from core.jobs.tasks import make_training_job
from core.nn import PRESETS, TrainingConfig, throughput
from core.nn.architecture import training_flops_per_sample
from core.nn.budget import (
    BudgetError,
    available_memory,
    check_baseline_budget,
    check_budget,
    describe,
    job_budget,
    training_images,
)

# The link of finding 4: /train?architecture=cnn&conv_filters=512,512,512,512&...
ATTACK = TrainingConfig(
    architecture="cnn",
    conv_filters=(512, 512, 512, 512),
    hidden_layers=(512, 512, 512, 512),
    epochs=30,
    batch_size=60_000,
)
PLENTY = 64 * 10**9


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (ATTACK, "at most 512 images per batch"),
        (TrainingConfig(**{**ATTACK.to_dict(), "batch_size": 256}), "at most 3 convolutional"),
        (
            TrainingConfig(**{**ATTACK.to_dict(), "batch_size": 256, "conv_filters": (512,)}),
            "at most 64 filters",
        ),
        (
            TrainingConfig(**{**ATTACK.to_dict(), "batch_size": 256, "conv_filters": (64,) * 3}),
            "needs about 102.7 trillion operations; this demo allows 10.0 trillion",
        ),
    ],
)
def test_the_attack_link_is_refused_in_the_demo_cap_by_cap(config, message):
    with pytest.raises(ValueError, match=message):
        check_budget(config, 60_000, settings.DEMO_LIMITS, available_bytes=PLENTY)


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_fits_the_demo_budget(name):
    budget = check_budget(PRESETS[name], 60_000, settings.DEMO_LIMITS, available_bytes=PLENTY)
    assert budget.problems == ()
    assert budget.max_seconds == 900


def test_operations_are_flops_per_image_times_images_times_epochs():
    config = TrainingConfig(hidden_layers=(128,), epochs=3, train_size=5_000)
    budget = job_budget(config, 60_000, settings.Limits(), available_bytes=PLENTY)
    assert budget.images == 5_000
    assert budget.total_flops == training_flops_per_sample(config) * 5_000 * 3
    assert budget.parameters == 101_770


def test_the_memory_estimate_follows_the_measured_growth_with_the_batch():
    """The review measured 2.1 GiB at batch 256 and 5.8 GiB at batch 1024 for this network."""
    small, large = (
        job_budget(TrainingConfig(**{**ATTACK.to_dict(), "batch_size": batch}), 60_000,
                   settings.Limits(), available_bytes=PLENTY)
        for batch in (256, 1024)
    )  # fmt: skip
    measured_growth = (5.8 - 2.1) * 2**30
    # Never much below what was measured; above it for such wide convolutions.
    assert 0.9 < (large.memory_bytes - small.memory_bytes) / measured_growth < 1.5


def test_a_job_that_cannot_fit_in_memory_is_refused_everywhere_with_the_estimate():
    config = TrainingConfig(**{**ATTACK.to_dict(), "batch_size": 1024})
    with pytest.raises(
        BudgetError, match=r"need about 7\.1 GB of memory, but the machine has 4\.0"
    ):
        check_budget(config, 60_000, settings.Limits(), available_bytes=4 * 10**9)
    assert check_budget(config, 60_000, settings.Limits(), available_bytes=PLENTY).problems == ()


def test_a_baseline_too_large_for_memory_is_refused():
    with pytest.raises(BudgetError, match="Use fewer training images"):
        check_baseline_budget(60_000, available_bytes=500 * 10**6)
    assert check_baseline_budget(10_000, available_bytes=PLENTY) == 10_000 * 784 * 8 * 3


def test_the_hosts_available_memory_is_read():
    available = available_memory()
    assert available is not None and 0 < available < 2**50


@pytest.mark.parametrize(
    "changes",
    [
        {"split": "article", "validation_fraction": 0.0},
        {"split": "article", "validation_fraction": 0.1},
        {"split": "official", "validation_fraction": 0.15, "train_size": 50_000},
        {"split": "official", "validation_fraction": 0.1, "train_size": 60_000},
    ],
)
def test_the_budget_counts_the_images_the_training_trains_on(mnist, changes):
    config = dataclasses.replace(PRESETS["Recommended"], **changes)
    available = len(mnist.train_images)
    train_size = min(config.train_size or available, training_images(config, available))
    splits = make_splits(mnist, config.split, config.validation_fraction, train_size, seed=3)
    assert training_images(config, available) == len(splits.x_train)


def test_the_budget_reads_as_text_with_the_caps():
    rows = dict(describe(job_budget(PRESETS["Recommended"], 60_000, settings.DEMO_LIMITS,
                                    available_bytes=8 * 10**9)))  # fmt: skip
    # Recommended holds out 10% of the 60,000 for validation.
    assert rows["Training images"] == "54,000 per epoch, 6 epochs"
    assert rows["Operations"].endswith("of 10.0 trillion allowed")
    assert rows["Memory (estimate)"].endswith("of 8.0 GB available")
    assert rows["Time limit"].startswith("stops itself after 15 minutes")


def test_batches_of_one_on_the_full_data_are_refused_in_the_demo_for_their_time():
    # The review's case: with batches of 1 the operations fit (an estimate from operations
    # alone said minutes) but every one of the 54,000 steps per epoch costs a fixed time, so
    # it would hold a training slot until the 15-minute limit cut it off.
    throughput.forget()
    one = TrainingConfig(hidden_layers=(128,), epochs=20, batch_size=1)
    budget = job_budget(one, 60_000, settings.DEMO_LIMITS, available_bytes=8 * 10**9)
    operations_only = budget.total_flops / throughput.ASSUMED_FLOPS_PER_SECOND
    assert operations_only < settings.DEMO_LIMITS.max_job_seconds
    assert budget.total_flops < settings.DEMO_LIMITS.max_total_flops
    steps = 20 * 54_000
    assert budget.estimated_seconds == pytest.approx(
        operations_only + steps * throughput.STEP_OVERHEAD_SECONDS
    )
    with pytest.raises(BudgetError, match=r"would take at least \d+ minutes here"):
        check_budget(one, 60_000, settings.DEMO_LIMITS, available_bytes=8 * 10**9)
    # Larger batches of the same network fit, and locally there is no time limit.
    larger = dataclasses.replace(one, batch_size=32)
    assert check_budget(larger, 60_000, settings.DEMO_LIMITS, available_bytes=8 * 10**9)
    assert check_budget(one, 60_000, settings.Limits(), available_bytes=8 * 10**9)


def test_budget_settings_are_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("MNIST_STUDIO_DEMO_MODE", "1")
    monkeypatch.setenv("MNIST_STUDIO_MAX_TOTAL_FLOPS", "2e12")
    monkeypatch.setenv("MNIST_STUDIO_MAX_JOB_SECONDS", "60")
    limits = settings.limits()
    assert limits.max_total_flops == 2e12 and limits.max_job_seconds == 60.0
    assert limits.max_batch_size == 512


# --- The wall-clock limit ---------------------------------------------------------------------


def test_a_job_over_its_time_limit_stops_itself_and_keeps_its_result():
    manager = JobManager(max_concurrent=1, max_job_seconds=0.2, stop_grace_seconds=5)

    def counts_until_stopped(report, stop_event):
        steps = 0
        while not stop_event.wait(0.01):
            steps += 1
        return steps

    job = manager.wait(manager.submit("count", counts_until_stopped).id, timeout=10)
    assert job.state == JobState.STOPPED and job.result > 0
    assert "time limit of 0.2 seconds and stopped itself" in job.stop_reason
    manager.shutdown()


def test_a_job_that_cannot_stop_is_timed_out_without_a_result_and_frees_its_slot():
    manager = JobManager(max_concurrent=1, max_job_seconds=0.1, stop_grace_seconds=0.2)
    release = threading.Event()

    def one_huge_batch(report, stop_event):
        report(phase="training", batch=0)
        release.wait(30)
        return "late"

    stuck = manager.submit("one huge batch", one_huge_batch)
    waiting = manager.submit("next", lambda report, stop_event: "done")
    assert manager.wait(stuck.id, timeout=10).state == JobState.TIMED_OUT
    assert "ended without a model" in stuck.error and stuck.result is None
    assert manager.wait(waiting.id, timeout=10).state == JobState.FINISHED
    release.set()
    threading.Event().wait(0.2)
    assert stuck.state == JobState.TIMED_OUT and stuck.result is None
    manager.shutdown()


def test_a_training_over_its_time_limit_keeps_what_it_learned(mnist, isolated_run_store):
    from core.runs import RunStore

    config = TrainingConfig(hidden_layers=(32,), epochs=200, batch_size=32, train_size=2_000)
    manager = JobManager(max_concurrent=1, max_job_seconds=10, stop_grace_seconds=10)
    store = RunStore(isolated_run_store)
    job = manager.submit("long", make_training_job(config, mnist, store, owner="visitor"))
    manager.wait(job.id, timeout=300)
    assert job.state == JobState.STOPPED and "stopped itself" in job.stop_reason
    result = job.result.result
    assert result.stopped and result.epochs_trained < 200 and result.model is not None
    assert store.get_run(job.result.run_id).status == "stopped"
    manager.shutdown()


def test_a_slow_measurement_of_a_tiny_network_refuses_no_one_elses_training():
    """A visitor's tiny network measured on a busy server scales to a huge estimate for every
    other dense network; the demo refuses only what would be too slow even at the built-in
    rate, so no measurement can refuse everyone's presets (the CI run found this)."""
    throughput.forget()
    tiny = TrainingConfig(hidden_layers=(4,), epochs=1, train_size=500, batch_size=16)
    throughput.record(tiny, "float32", images_per_second=300.0, num_classes=10)
    article = PRESETS["As in the article"]
    budget = job_budget(article, 60_000, settings.DEMO_LIMITS, available_bytes=PLENTY)
    assert budget.estimated_seconds > settings.DEMO_LIMITS.max_job_seconds  # the slow scale
    assert budget.least_seconds < settings.DEMO_LIMITS.max_job_seconds
    assert budget.problems == ()
    # Batches of one stay refused: even the built-in rate says they are too slow.
    one = TrainingConfig(hidden_layers=(128,), epochs=20, batch_size=1)
    with pytest.raises(BudgetError, match="at least"):
        check_budget(one, 60_000, settings.DEMO_LIMITS, available_bytes=PLENTY)
    throughput.forget()
