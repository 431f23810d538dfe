"""Which runs to delete so a run store stays within its caps (counts, age, bytes).

Owns `PruneQuota` and `runs_to_prune`, a pure function from a table of runs to the ids to
delete, fair between owners. It deletes nothing and reads no files: `RunStore.prune`
(`core.runs.store`) lists the runs, calls it and deletes what it chose.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class PruneQuota:
    """What the run store keeps; None leaves a cap out.

    Attributes:
        max_runs: Runs kept in all.
        max_age_days: Runs older than this many days are deleted.
        max_runs_per_owner: Runs kept per owner (runs without an owner count as one owner).
        max_bytes: Model-file bytes kept in all.
        max_bytes_per_owner: Model-file bytes kept per owner (the newest run always stays).
    """

    max_runs: int | None = None
    max_age_days: float | None = None
    max_runs_per_owner: int | None = None
    max_bytes: int | None = None
    max_bytes_per_owner: int | None = None

    @property
    def limits_anything(self) -> bool:
        """True when at least one cap is set."""
        return any(value is not None for value in vars(self).values())


def runs_to_prune(runs: pd.DataFrame, quota: PruneQuota) -> list[str]:
    """Choose which runs to delete so the rest fit the quota, fairly between owners.

    In order: runs older than ``max_age_days``; each owner's oldest runs beyond
    ``max_runs_per_owner`` or ``max_bytes_per_owner`` (an owner's newest run is kept even
    when it alone is larger); then, while the store holds more than ``max_runs`` runs or
    ``max_bytes`` bytes, the oldest run of the owner who holds the most runs (or bytes).
    So a visitor who floods the store only ever loses their own runs while they hold more
    than anyone else. A cap in bytes skips runs without a model file, which free nothing.

    Args:
        runs: `RunStore.list_runs` output, newest first (columns id, created, owner,
            model_size).
        quota: The caps.

    Returns:
        The ids to delete, in the order they were chosen.
    """
    ordered = runs.iloc[::-1]  # Oldest first.
    records = [
        (str(run_id), owner if isinstance(owner, str) else None, _size(size), created)
        for run_id, owner, size, created in zip(
            ordered["id"], ordered["owner"], ordered["model_size"], ordered["created"], strict=True
        )
    ]
    doomed: list[str] = []
    if quota.max_age_days is not None:
        cutoff = pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=quota.max_age_days)
        doomed += [run_id for run_id, _, _, created in records if created < cutoff]
    kept: dict[str | None, list[tuple[str, int]]] = {}
    for run_id, owner, size, _ in records:
        if run_id not in doomed:
            kept.setdefault(owner, []).append((run_id, size))

    def drop_oldest(owner: str | None, needs_bytes: bool = False) -> None:
        runs_of_owner = kept[owner]
        index = next(
            (i for i, (_, size) in enumerate(runs_of_owner) if size > 0 or not needs_bytes), 0
        )
        doomed.append(runs_of_owner.pop(index)[0])
        if not runs_of_owner:
            del kept[owner]

    def owner_bytes(owner: str | None) -> int:
        return sum(size for _, size in kept[owner])

    for owner in list(kept):
        while quota.max_runs_per_owner is not None and len(kept[owner]) > quota.max_runs_per_owner:
            drop_oldest(owner)
        while (
            quota.max_bytes_per_owner is not None
            and len(kept[owner]) > 1
            and owner_bytes(owner) > quota.max_bytes_per_owner
        ):
            drop_oldest(owner, needs_bytes=True)

    def most_runs(owner: str | None) -> tuple[int, str]:
        return -len(kept[owner]), kept[owner][0][0]  # Ties: the oldest run (ids sort by time).

    def most_bytes(owner: str | None) -> tuple[int, str]:
        return -owner_bytes(owner), kept[owner][0][0]

    while quota.max_runs is not None and sum(map(len, kept.values())) > quota.max_runs:
        drop_oldest(min(kept, key=most_runs))
    while quota.max_bytes is not None and sum(map(owner_bytes, kept)) > quota.max_bytes:
        drop_oldest(min(kept, key=most_bytes), needs_bytes=True)
    return doomed


def _size(value: Any) -> int:
    """A model size from the table as bytes (0 for a run without a model file)."""
    return 0 if value is None or pd.isna(value) else int(value)
