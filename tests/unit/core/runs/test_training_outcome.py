"""`core.runs.training_outcome`: whole epochs, the stopped-training sentence, model labels."""

from types import SimpleNamespace

from core.runs.current_models import ADOPT, KEEP_BETTER
from core.runs.records import RunKind, RunStatus
from core.runs.training_outcome import completed_epochs, model_label, stopped_text


def stopped(losses, planned, epochs_completed, batches_into_epoch, batches_per_epoch=469):
    return SimpleNamespace(
        history={"loss": losses},
        config=SimpleNamespace(epochs=planned),
        epochs_completed=epochs_completed,
        batches_into_epoch=batches_into_epoch,
        batches_per_epoch=batches_per_epoch,
    )


def test_completed_epochs_counts_the_losses_of_whole_epochs():
    assert completed_epochs(stopped([0.5, 0.3], 5, 2, 0)) == 2
    assert completed_epochs(SimpleNamespace(history={})) == 0


def test_a_training_stopped_mid_epoch_says_where_and_what_became_of_its_model():
    result = stopped([0.5, 0.3], 5, 2, 120)
    assert stopped_text(result, {}, ADOPT) == (
        "Stopped after 2 of 5 epochs and 120 of 469 batches of epoch 3: the partly trained "
        "model was kept, evaluated and made current."
    )
    assert stopped_text(result, {}, KEEP_BETTER) == (
        "Stopped after 2 of 5 epochs and 120 of 469 batches of epoch 3: the partly trained "
        "model was kept and evaluated."
    )


def test_a_training_stopped_in_its_first_epoch_leaves_the_current_model():
    result = stopped([], 1, 0, 1500, batches_per_epoch=0)
    assert stopped_text(result, {"batches": 1875}, None) == (
        "Stopped after 0 of 1 epoch and 1,500 of 1,875 batches of epoch 1: the current model "
        "is unchanged (a network needs one whole epoch)."
    )


def test_a_model_label_does_not_put_the_accuracy_in_a_second_pair_of_brackets():
    assert model_label("seed 0 (2)", 0.9019) == "seed 0 (2) · 90.19%"
    assert model_label("784-128-10 relu", 0.9781) == "784-128-10 relu · 97.81%"


def test_run_kinds_keep_their_stored_values():
    assert [kind.value for kind in RunKind] == ["network", "baseline"]
    assert RunKind.NETWORK == "network" and RunStatus.FINISHED == "finished"
