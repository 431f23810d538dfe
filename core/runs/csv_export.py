"""CSV files the app hands out, with text cells that a spreadsheet cannot run as formulas.

A run name such as ``=HYPERLINK("https://evil.example", "click")`` written to a CSV as it is
becomes a live formula when the file is opened in a spreadsheet. Every CSV download goes
through `csv_bytes`, which puts an apostrophe before any text cell that starts like a formula
(OWASP's advice); numbers, negative ones included, stay numbers.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

# What makes a spreadsheet read a cell as a formula: =, +, -, @, a tab or a carriage return
# first, and the full-width forms some spreadsheets also accept.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
NEUTRALISING_PREFIX = "'"


def neutralise_cell(value: Any) -> Any:
    """Return a text cell that starts like a formula with an apostrophe before it.

    Args:
        value: One cell. Only text (``str``) is changed; numbers and missing values are
            returned as they are.

    Returns:
        The value, or ``"'" + value`` for text starting with one of `FORMULA_STARTS`.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return NEUTRALISING_PREFIX + value
    return value


def _neutralise_labels(labels: pd.Index) -> pd.Index:
    if labels.dtype == object or pd.api.types.is_string_dtype(labels.dtype):
        return labels.map(neutralise_cell)
    return labels


# Enough for any accuracy, loss or time the app shows; a float32 holds about seven.
SIGNIFICANT_DIGITS = 6


def csv_bytes(table: pd.DataFrame, index: bool = True) -> bytes:
    """Return a table as UTF-8 CSV with its text cells neutralised (see `neutralise_cell`)
    and decimals written to `SIGNIFICANT_DIGITS` significant digits (94.0133, not
    94.01333333333334).

    Args:
        table: The table to write; it is not modified.
        index: Whether to write the index as the first column (as `DataFrame.to_csv`).

    Returns:
        The CSV file's bytes.
    """
    safe = table.copy()
    for column in safe.columns:
        values = safe[column]
        if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
            safe[column] = values.map(neutralise_cell)
    safe.columns = _neutralise_labels(safe.columns)
    safe.index = _neutralise_labels(safe.index)
    return safe.to_csv(index=index, float_format=f"%.{SIGNIFICANT_DIGITS}g").encode("utf-8")
