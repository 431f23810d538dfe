"""When a training's model becomes the current one (core.runs.current_models.after_training)."""

from core.runs.current_models import ADOPT, KEEP_BETTER, NO_EPOCH, after_training


def test_a_stopped_run_never_silently_replaces_a_better_current_model():
    """The issue: stopped after 9 epochs at 93.75%, it replaced a current model of 95.58%."""
    assert after_training(True, 9, 0.9375, 0.9558) == KEEP_BETTER
    # As good or better, or nothing to compare with: the learner sees the new one.
    assert after_training(True, 9, 0.9558, 0.9558) == ADOPT
    assert after_training(True, 9, 0.97, 0.9558) == ADOPT
    assert after_training(True, 9, 0.9375, None) == ADOPT


def test_a_finished_run_becomes_current_even_when_it_scores_lower():
    """A learner who trains a model to the end wants to see it (the page offers the old back)."""
    assert after_training(False, 20, 0.9375, 0.9558) == ADOPT


def test_a_run_without_one_whole_epoch_never_becomes_current():
    assert after_training(True, 0, 0.5, None) == NO_EPOCH
