"""The progress bar of a training job: its fraction and its label, from the job's progress dict."""

from __future__ import annotations

import math


def progress_fraction(progress: dict) -> float:
    """Return a job's progress as a fraction from 0 to 1 (0 before its first report)."""
    return min(max(float(progress.get("fraction") or 0.0), 0.0), 1.0)


def progress_text(progress: dict) -> str:
    """Return the label of a training's progress bar, derived from the bar's own fraction.

    Progress reports come a few times a second and an epoch may end between two of them, so
    the epoch and batch are worked out from the fraction the bar shows: label and bar always
    move together.
    """
    if progress.get("phase") == "evaluating":
        return "Measuring accuracy on the test images…"
    epochs = max(int(progress.get("epochs") or 1), 1)
    batches = max(int(progress.get("batches") or 1), 1)
    fraction = progress_fraction(progress)
    steps = round(fraction * epochs * batches)
    if steps == 0:
        return "Preparing: TensorFlow sets up the training…"
    epoch = min(max(math.ceil(steps / batches), 1), epochs)
    batch = min(steps - (epoch - 1) * batches, batches)
    return f"{fraction:.0%} · epoch {epoch} of {epochs} · batch {batch:,} of {batches:,}"
