"""How an ended training is told on the Train page: its whole epochs, where a stopped one
ended, and the label its model goes by in the sidebar and the model pickers."""

from __future__ import annotations

from typing import Any

from core.runs.current_models import KEEP_BETTER


def completed_epochs(result: Any) -> int:
    """Return how many whole epochs a training finished (a stopped epoch does not count).

    Args:
        result: A `core.nn.training.TrainingResult` (its history has one loss per epoch).
    """
    return len(result.history.get("loss", ()))


def stopped_text(result: Any, progress: dict, decision: str | None) -> str:
    """Say truthfully where a stopped training ended, and what became of its model.

    Args:
        result: The stopped training's `core.nn.training.TrainingResult`.
        progress: The job's last progress (its ``"batches"`` per epoch, when the result has
            none).
        decision: What `core.runs.current_models.after_training` decided for its model.
    """
    epochs = completed_epochs(result)
    planned = result.config.epochs
    text = f"Stopped after {epochs} of {planned} epoch{'s' * (planned != 1)}"
    batches = result.batches_per_epoch or int(progress.get("batches") or 0)
    partial = result.batches_into_epoch if epochs == result.epochs_completed else 0
    if partial > 0:
        text += f" and {partial:,} of {batches:,} batches of epoch {epochs + 1}"
    if epochs == 0:
        return text + ": the current model is unchanged (a network needs one whole epoch)."
    if decision == KEEP_BETTER:
        return text + ": the partly trained model was kept and evaluated."
    return text + ": the partly trained model was kept, evaluated and made current."


def model_label(name: str, test_accuracy: float) -> str:
    """What the sidebar and the model pickers call an ended training's model.

    The name may already end in brackets (a second run of a name is "seed 0 (2)"), so the
    accuracy follows a middle dot, as in the pickers' stored runs: "seed 0 (2) · 90.19%".
    """
    return f"{name} · {test_accuracy:.2%}"
