"""The Draw page's verdict in plain words: no jargon in the caption, the figures in details."""

from __future__ import annotations

import numpy as np

from core.inspection import novelty


def judgement(verdict: str, measures) -> novelty.Judgement:
    return novelty.Judgement(
        verdict=verdict,
        calibrated=np.full(10, 0.1),
        confidence=0.41,
        measures=np.asarray(measures, dtype=np.float64),
        novelty=23.4,
        novelty_threshold=12.9,
        neighbour_indices=np.arange(8),
        neighbour_labels=np.zeros(8, dtype=np.uint8),
        neighbour_distances=np.full(8, 0.83),
    )


def test_the_summary_speaks_plainly_and_the_figures_are_in_the_details():
    words = novelty.judgement_words(judgement(novelty.VERDICT_NOT_A_DIGIT, [0.83, 287, 0.17, 0]))
    for jargon in ("Mahalanobis", "components", "rebuild", "PCA", "embedding"):
        assert jargon not in words.summary
    assert "unlike the digits the model learned from" in words.summary
    assert "41%" in words.summary and "23.4" in words.summary and "12.9" in words.summary
    assert "98.5% of drawn digits" in words.summary
    details = " ".join(words.details)
    assert "0.83" in details and "287" in details and "17%" in details
    assert "Closed loops in the ink: 0" in details


def test_a_digit_is_said_to_look_like_the_training_digits():
    words = novelty.judgement_words(judgement(novelty.VERDICT_DIGIT, [0.2, 40, 0.05, 1]))
    assert "looks like the digits the model learned from" in words.summary


def test_not_sure_says_the_model_hesitates_without_calling_the_shape_unusual():
    """A hatching read "Not sure" above a caption saying it looked like the training digits,
    with "after calibration" and "unusualness" (a first-time visitor's review)."""
    words = novelty.judgement_words(judgement(novelty.VERDICT_NOT_SURE, [0.5, 60, 0.08, 0]))
    assert "hesitates between answers" in words.summary
    assert "looks like the digits" not in words.summary
    for jargon in ("calibration", "unusualness"):
        assert jargon not in words.summary
