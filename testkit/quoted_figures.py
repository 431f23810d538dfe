"""The percentages page copy may quote: only measured figures (`core.measurements`).

Shared by the measurement checks (tests/unit/project/) and the Home page's AppTest.
"""

from __future__ import annotations

import re

from core.measurements import ARTICLE_REPORTED, MEASURED

# A percentage or a range of them, as the copy writes them: "92.6%", "95.27-95.47%".
PERCENTAGE = re.compile(r"\d+(?:\.\d+)?(?:-\d+(?:\.\d+)?)?%")


def quoted_figures() -> set[str]:
    """The only percentages page copy may give: the measured ones and the article's own."""
    return {measurement.text for measurement in MEASURED.values()} | {ARTICLE_REPORTED}


def percentages(text: str) -> list[str]:
    """Every percentage (or range of percentages) written in `text`, in order."""
    return PERCENTAGE.findall(text)
