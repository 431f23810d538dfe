"""The model-file attacks of issue 12, each imported in a subprocess under a 3 GiB address
space and a 64 MiB file-size cap, so an attack that works fails the test, not the machine."""

import pytest

from testkit.attack_files import (
    ADDRESS_SPACE_BYTES,
    many_members,
    padded_config,
    run_import_in_subprocess,
    small_model_bytes,
    upsampling_model,
)

# Python, NumPy and Keras alone take about 700 MiB; an import may add a little to that.
MEMORY_BOUND_MIB = 1_200


@pytest.fixture(scope="module")
def base_model() -> bytes:
    return small_model_bytes()


@pytest.mark.parametrize(
    ("build", "error", "words"),
    [
        (padded_config, "ArchiveTooLargeError", "config.json in upload.keras unpacks to"),
        (
            lambda base: many_members(base, count=2, member_bytes=100 * 2**20),
            "UnexpectedMemberError",
            "a Keras model file holds only",
        ),
        (lambda base: upsampling_model(), "LayerNotAllowedError", "is a UpSampling2D"),
    ],
    ids=["padded config.json", "many members", "UpSampling2D model"],
)
def test_an_attack_is_refused_by_name_with_bounded_memory_and_disk(
    base_model, tmp_path, build, error, words
):
    outcome = run_import_in_subprocess(build(base_model), tmp_path, demo=True)
    assert outcome.returncode == 0, f"the import process died ({outcome.returncode})"
    assert outcome.error == error and words in outcome.message
    assert not outcome.evaluated
    assert outcome.peak_rss_mib < MEMORY_BOUND_MIB < ADDRESS_SPACE_BYTES / 2**20
    assert outcome.temp_peak_bytes == 0 and outcome.temp_bytes == 0


def test_a_normal_model_loads_and_evaluates_in_the_same_harness(base_model, tmp_path):
    outcome = run_import_in_subprocess(base_model, tmp_path, demo=True)
    assert outcome.returncode == 0 and outcome.error is None and outcome.evaluated
    assert outcome.temp_bytes == 0
