"""Looking inside a prediction: saliency (why this digit) and not-a-digit detection.

Not-a-digit detection (`core.inspection.novelty`) loads Pillow and SciPy, so its names are
imported from it on first use (start-up time): `from core.inspection import judge` works, and
`import core.inspection` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from core.inspection.saliency import Saliency, occlusion_saliency

if TYPE_CHECKING:
    from core.inspection.novelty import (
        BANK_SIZE,
        CALIBRATION_SIZE,
        DIGITS_FLAGGED_NOT_A_DIGIT,
        DIGITS_FLAGGED_NOT_SURE,
        VERDICT_DIGIT,
        VERDICT_NOT_A_DIGIT,
        VERDICT_NOT_SURE,
        Judgement,
        JudgementWords,
        Reference,
        build_reference,
        judge,
        judge_embedding,
        judgement_words,
        reference_for,
        reference_inputs,
        split_calibration,
    )


def __getattr__(name: str) -> Any:
    """Return a name of `core.inspection.novelty`, importing it on first use."""
    if name in __all__ and name not in _SALIENCY_NAMES:
        return getattr(importlib.import_module("core.inspection.novelty"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BANK_SIZE",
    "CALIBRATION_SIZE",
    "DIGITS_FLAGGED_NOT_A_DIGIT",
    "DIGITS_FLAGGED_NOT_SURE",
    "VERDICT_DIGIT",
    "VERDICT_NOT_A_DIGIT",
    "VERDICT_NOT_SURE",
    "Judgement",
    "JudgementWords",
    "Reference",
    "Saliency",
    "build_reference",
    "judge",
    "judge_embedding",
    "judgement_words",
    "occlusion_saliency",
    "reference_for",
    "reference_inputs",
    "split_calibration",
]
_SALIENCY_NAMES = frozenset({"Saliency", "occlusion_saliency"})
