"""`core.text.format_duration`: the one wording of durations (the budget's)."""

import pytest

from core.text import format_duration


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "–"),
        (0.3, "1 second"),
        (1.4, "1 second"),
        (1.6, "2 seconds"),
        (18.4, "18 seconds"),
        (89.4, "89 seconds"),
        (90, "2 minutes"),
        (185, "3 minutes"),
        (3600, "60 minutes"),
        (90_000, "1,500 minutes"),
    ],
)
def test_durations_read_in_seconds_below_ninety_and_whole_minutes_above(seconds, text):
    assert format_duration(seconds) == text
