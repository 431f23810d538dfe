"""A class's results as tables: the leaderboard the pages show and the CSV a teacher keeps."""

from __future__ import annotations

import pandas as pd

from core.classes.challenges import FEWEST_PARAMETERS, Challenge, Entry, leaderboard
from core.classes.store import Student

# The settings a leaderboard row shows, so students see what worked.
SETTING_FIELDS = (
    "architecture", "hidden_layers", "conv_filters", "activation", "optimizer",
    "learning_rate", "batch_size", "epochs", "dropout", "batch_norm", "schedule",
)  # fmt: skip


def settings_text(config: dict) -> str:
    """A run's settings in one line: "dense 128 · relu · adam 0.001 · batch 128 · 20 epochs"."""
    if config.get("architecture") == "cnn":
        layers = "cnn " + ",".join(str(size) for size in config.get("conv_filters") or [])
        layers += " + " + (
            ",".join(str(size) for size in config.get("hidden_layers") or []) or "none"
        )
    else:
        layers = "dense " + (
            ",".join(str(size) for size in config.get("hidden_layers") or []) or "none"
        )
    parts = [
        layers,
        str(config.get("activation", "")),
        f"{config.get('optimizer', '')} {config.get('learning_rate', '')}",
        f"batch {config.get('batch_size', '')}",
        f"{config.get('epochs', '')} epochs",
    ]
    if config.get("dropout"):
        parts.append(f"dropout {config['dropout']}")
    if config.get("batch_norm"):
        parts.append("batch norm")
    return " · ".join(part for part in parts if part.strip())


LABELS = {
    "architecture": "network", "hidden_layers": "hidden layers", "conv_filters": "filters",
    "activation": "activation", "optimizer": "optimizer", "learning_rate": "learning rate",
    "batch_size": "batch", "epochs": "epochs", "dropout": "dropout",
    "batch_norm": "batch normalisation", "schedule": "learning-rate schedule",
}  # fmt: skip


def shared_text(common: dict) -> str:
    """What the top entries share, in words: "network dense, hidden layers 64, optimizer adam".

    Filters are left out for dense networks (they have none).
    """
    parts = []
    for field, value in common.items():
        if field == "conv_filters" and common.get("architecture") != "cnn":
            continue
        if isinstance(value, list | tuple):
            value = ",".join(map(str, value)) or "none"
        elif isinstance(value, bool):
            value = "on" if value else "off"
        parts.append(f"{LABELS.get(field, field)} {value}")
    return ", ".join(parts)


def leaderboard_table(challenge: Challenge, entries: list[Entry]) -> pd.DataFrame:
    """The leaderboard: rank, name, score, parameters, training time, settings, status."""
    rows = [
        {
            "rank": row.rank,
            "name": row.entry.student,
            "score": int(row.score) if challenge.kind == FEWEST_PARAMETERS else row.score,
            "test accuracy": row.entry.test_accuracy,
            "parameters": row.entry.parameters,
            "training s": row.entry.train_seconds,
            "settings": settings_text(row.entry.config),
            "status": row.entry.status,
            "run": row.entry.run_id,
        }
        for row in leaderboard(challenge, entries)
    ]
    columns = ["rank", "name", "score", "test accuracy", "parameters", "training s", "settings",
               "status", "run"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def results_table(
    challenge: Challenge, students: list[Student], entries: list[Entry]
) -> pd.DataFrame:
    """Every counting run of the class, one row each, for the teacher's CSV.

    Columns: name, run, saved (UTC), status, test accuracy, parameters, training seconds,
    counts (whether the challenge's rule keeps it, else why not), rank (of the student's
    best, on that run's row), and each setting of `SETTING_FIELDS`. Students without a run
    get one row with their name only.
    """
    ranks = {row.entry.run_id: row.rank for row in leaderboard(challenge, entries)}
    rows = []
    for entry in sorted(entries, key=lambda entry: (entry.student.casefold(), entry.created)):
        why_not = challenge.keeps(entry)
        row = {
            "name": entry.student, "run": entry.run_id, "saved": entry.created,
            "status": entry.status, "test accuracy": entry.test_accuracy,
            "parameters": entry.parameters, "training seconds": entry.train_seconds,
            "counts": "yes" if why_not is None else f"no: {why_not}",
            "rank": ranks.get(entry.run_id),
        }  # fmt: skip
        for field in SETTING_FIELDS:
            value = entry.config.get(field)
            row[field] = ",".join(map(str, value)) if isinstance(value, list | tuple) else value
        rows.append(row)
    with_runs = {entry.student for entry in entries}
    for student in students:
        if student.name not in with_runs and not student.removed:
            rows.append({"name": student.name})
    columns = ["name", "run", "saved", "status", "test accuracy", "parameters",
               "training seconds", "counts", "rank", *SETTING_FIELDS]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)
