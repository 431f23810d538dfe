"""Tests of core.nn.throughput: estimates come from what this machine measured."""

import pytest

from core.nn import progress as training_progress
from core.nn import throughput
from core.nn.architecture import training_flops_per_sample
from core.nn.config import TrainingConfig
from core.nn.training import choose_steps_per_execution, train_model

ARTICLE_LIKE = TrainingConfig(hidden_layers=(128,), epochs=4)
WIDER = TrainingConfig(hidden_layers=(512,), epochs=2)
CNN = TrainingConfig(architecture="cnn", conv_filters=(8, 16), hidden_layers=(32,), epochs=1)


@pytest.fixture(autouse=True)
def clean_slate():
    throughput.forget()
    yield
    throughput.forget()


def test_without_measurements_the_estimate_says_it_assumes():
    estimate = throughput.estimate(ARTICLE_LIKE, 50_000, precision="float32")
    assert not estimate.measured
    assert "nothing measured yet" in estimate.basis
    flops = training_flops_per_sample(ARTICLE_LIKE) * 50_000 * 4
    steps = 4 * 50_000 / ARTICLE_LIKE.batch_size
    assert estimate.seconds == pytest.approx(
        steps * throughput.STEP_OVERHEAD_SECONDS + flops / throughput.ASSUMED_FLOPS_PER_SECOND
    )


def test_small_batches_cost_their_steps_not_only_their_operations():
    # The review's case: batches of 1 over the full training set. Operations alone said
    # 293 s; each of the 54,000 steps per epoch also costs a fixed time.
    one = TrainingConfig(hidden_layers=(128,), epochs=5, batch_size=1)
    large = TrainingConfig(hidden_layers=(128,), epochs=5, batch_size=128)
    one_seconds = throughput.estimate(one, 54_000, precision="float32").seconds
    large_seconds = throughput.estimate(large, 54_000, precision="float32").seconds
    operations = training_flops_per_sample(one) * 54_000 * 5 / throughput.ASSUMED_FLOPS_PER_SECOND
    assert one_seconds == pytest.approx(operations + 5 * 54_000 * throughput.STEP_OVERHEAD_SECONDS)
    assert one_seconds > 10 * large_seconds


def test_same_network_uses_its_own_rate_and_others_are_scaled_by_their_work():
    throughput.record(ARTICLE_LIKE, "float32", 10_000.0, num_classes=10)
    same = throughput.estimate(ARTICLE_LIKE, 50_000, precision="float32")
    assert same.measured
    assert same.seconds == pytest.approx(4 * 50_000 / 10_000)
    assert same.basis == "measured 10,000 images/s for this network in float32"
    assert same.precision == "float32"

    wider = throughput.estimate(WIDER, 50_000, precision="float32")
    # The measured time per image less its share of the steps' fixed cost is arithmetic;
    # the wider network does more of it per image and pays the same per step.
    overhead_per_image = throughput.STEP_OVERHEAD_SECONDS / ARTICLE_LIKE.batch_size
    arithmetic = (1 / 10_000 - overhead_per_image) / training_flops_per_sample(ARTICLE_LIKE)
    per_image = training_flops_per_sample(WIDER) * arithmetic + overhead_per_image
    assert wider.seconds == pytest.approx(2 * 50_000 * per_image)
    assert wider.basis.startswith("scaled from 10,000 images/s measured for 784-128-10")

    # A dense measurement says nothing about convolutions, nor float32 about bfloat16.
    assert not throughput.estimate(CNN, 50_000, precision="float32").measured
    throughput.record(CNN, "float32", 2_000.0, num_classes=10)
    other_cnn = TrainingConfig(architecture="cnn", conv_filters=(16, 32), epochs=1)
    assert throughput.estimate(other_cnn, 1_000, precision="float32").basis.startswith(
        "scaled from 2,000 images/s measured for conv 8-16, dense 32-10, batch 128"
    )
    assert not throughput.estimate(CNN, 50_000, precision="bfloat16").measured
    assert throughput.estimate(CNN, 50_000, precision="bfloat16").precision == "bfloat16"


def test_a_dense_network_is_estimated_in_float32_whatever_the_setting():
    throughput.record(ARTICLE_LIKE, "float32", 10_000.0, num_classes=10)
    assert throughput.estimate(ARTICLE_LIKE, 50_000, precision="bfloat16").measured


def test_chunk_size_follows_the_measured_speed():
    # 100 batches of 128 a second: a tenth of a second is 10 batches.
    assert choose_steps_per_execution(ARTICLE_LIKE, 60_000, images_per_second=12_800) == 10
    assert choose_steps_per_execution(ARTICLE_LIKE, 60_000, images_per_second=100) == 1


@pytest.mark.parametrize(
    "window", [0.0, 3600.0], ids=["measured mid-run", "shorter than the window"]
)
def test_a_training_records_its_speed(mnist, monkeypatch, window):
    # A run that ends before the measuring window (a quick run on a fast machine) is
    # measured at its end, over the chunks after its first.
    monkeypatch.setattr(training_progress, "MEASURE_AFTER_SECONDS", window)
    config = TrainingConfig(hidden_layers=(64,), train_size=4_000, batch_size=32, epochs=4)
    events = []
    result = train_model(config, mnist, on_progress=events.append)
    rate, basis, measured = throughput.images_per_second(config, "float32")
    assert measured and basis.startswith("measured")
    # The figure is of the run itself. It leaves out the first chunk (tracing), which on a fast
    # machine is most of this short run's time (CI measured 34,833 steady against 6,678
    # overall), so it lies between the overall speed and a few dozen times it.
    assert 0.3 * result.samples_per_second < rate < 30 * result.samples_per_second
    assert any(event.get("measured_images_per_second") for event in events)


def test_a_three_class_measurement_is_quoted_with_three_outputs():
    throughput.record(ARTICLE_LIKE, "float32", 10_000.0, num_classes=3)
    wider = throughput.estimate(WIDER, 50_000, precision="float32")
    assert wider.basis.startswith("scaled from 10,000 images/s measured for 784-128-3, batch 128")
