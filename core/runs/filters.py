"""The Compare page's run filter: runs whose name or configuration match, of chosen kinds."""

from __future__ import annotations

from collections.abc import Collection

import pandas as pd


def filter_runs(
    runs: pd.DataFrame,
    text: str = "",
    kinds: Collection[str] = (),
    statuses: Collection[str] = (),
    tested_on: Collection[str] = (),
) -> pd.DataFrame:
    """Return the runs that match every filter given (an empty filter keeps every run).

    Args:
        runs: The runs table, with ``name``, ``summary``, ``kind``, ``status`` and
            ``tested_on`` columns.
        text: Kept when the name or the configuration summary contains it (any case).
        kinds: Kept when its kind is one of these.
        statuses: Kept when its status is one of these.
        tested_on: Kept when the images it was tested on are one of these.

    Returns:
        The matching rows, in their order.
    """
    shown = runs
    if text:
        mask = shown["name"].str.contains(text, case=False, regex=False)
        mask |= shown["summary"].str.contains(text, case=False, regex=False)
        shown = shown[mask]
    if kinds:
        shown = shown[shown["kind"].isin(kinds)]
    if statuses:
        shown = shown[shown["status"].isin(statuses)]
    if tested_on:
        shown = shown[shown["tested_on"].isin(tested_on)]
    return shown
