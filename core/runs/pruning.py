"""Which runs to delete so a run store stays within its caps (counts, age, bytes).

Owns `PruneQuota` and `runs_to_prune`, a pure function from a table of runs to the ids to
delete, fair between owners and between network addresses, and `protected_runs`: the runs
no one else's saves can push out. It deletes nothing and reads no files: `RunStore.prune`
(`core.runs.store`) lists the runs, calls it and deletes what it chose.

An owner is a cookie, which anyone can mint by the hundred, so the store-wide caps never
take a visitor's newest runs (`protected_runs`) and take first from the network address
(or, without one, the owner) that saved the most lately. When only protected runs are left,
the store is over its cap and refuses new visitors' runs instead (`RunStore.check_room`).
"""

from __future__ import annotations

from collections.abc import Mapping
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
        protected_runs_per_owner: Each owner's newest runs that the store-wide caps
            (``max_runs``, ``max_bytes``) never take (None: none are protected).
        protected_runs_per_address: At most this many runs protected per network address,
            owners who saved first served first, so a flood of new cookies from one
            address cannot protect itself (None: no bound).
        max_saves_per_address_per_day: Runs one network address (or, without one, one
            owner) may save in 24 hours; more are refused (None: any).
    """

    max_runs: int | None = None
    max_age_days: float | None = None
    max_runs_per_owner: int | None = None
    max_bytes: int | None = None
    max_bytes_per_owner: int | None = None
    protected_runs_per_owner: int | None = None
    protected_runs_per_address: int | None = None
    max_saves_per_address_per_day: int | None = None

    @property
    def limits_anything(self) -> bool:
        """True when at least one cap is set."""
        return any(value is not None for value in vars(self).values())


@dataclass(frozen=True)
class _Record:
    id: str
    owner: str | None
    group: str | None  # the saving address's key, or "owner:<owner>" without one
    size: int
    created: pd.Timestamp


def _records(runs: pd.DataFrame) -> list[_Record]:
    """The runs of a `RunStore` table, oldest first."""
    ordered = runs.iloc[::-1]
    addresses = ordered["address"] if "address" in ordered else [None] * len(ordered)
    records = []
    for run_id, owner, address, size, created in zip(
        ordered["id"], ordered["owner"], addresses, ordered["model_size"], ordered["created"],
        strict=True,
    ):  # fmt: skip
        owner = owner if isinstance(owner, str) else None
        group = address if isinstance(address, str) and address else _owner_group(owner)
        records.append(_Record(str(run_id), owner, group, _size(size), created))
    return records


def _owner_group(owner: str | None) -> str | None:
    return None if owner is None else f"owner:{owner}"


def group_of(owner: str | None, address_key: str | None) -> str | None:
    """Return the group a run counts in: its saving address's key, else its owner's."""
    return address_key or _owner_group(owner)


def protected_runs(runs: pd.DataFrame, quota: PruneQuota) -> set[str]:
    """Return the runs the store-wide caps never take: each owner's newest runs.

    Each owner's newest ``protected_runs_per_owner`` runs are protected, at most
    ``protected_runs_per_address`` in each address group; owners are served in the order
    they first saved (their oldest run kept), so a visitor who was there first keeps their
    protection whatever new cookies from the same address do.

    Args:
        runs: `RunStore` runs, newest first (columns id, created, owner, address, model_size).
        quota: The caps.

    Returns:
        The protected run ids.
    """
    return _protected(_records(runs), quota)


def _protected(records: list[_Record], quota: PruneQuota) -> set[str]:
    if quota.protected_runs_per_owner is None:
        return set()
    by_owner: dict[str | None, list[_Record]] = {}
    for record in records:  # Oldest first, so owners come in the order they first saved.
        by_owner.setdefault(record.owner, []).append(record)
    protected: set[str] = set()
    per_group: dict[str | None, int] = {}
    for owner_runs in by_owner.values():
        for record in reversed(owner_runs[-quota.protected_runs_per_owner :]):
            taken = per_group.get(record.group, 0)
            if quota.protected_runs_per_address is None or taken < quota.protected_runs_per_address:
                protected.add(record.id)
                per_group[record.group] = taken + 1
    return protected


def runs_to_prune(
    runs: pd.DataFrame,
    quota: PruneQuota,
    recent_saves: Mapping[str | None, int] | None = None,
) -> list[str]:
    """Choose which runs to delete so the rest fit the quota, fairly between visitors.

    In order: runs older than ``max_age_days``; each owner's oldest runs beyond
    ``max_runs_per_owner`` or ``max_bytes_per_owner`` (an owner's newest run is kept even
    when it alone is larger); then, while the store holds more than ``max_runs`` runs or
    ``max_bytes`` bytes, the oldest unprotected run (see `protected_runs`) of the group
    (network address, or owner without one) that saved the most lately, then holds the most
    (for bytes: that holds the most bytes, then saved the most lately).
    So a flood from one address only ever costs that address's runs and other visitors'
    older, unprotected runs; when only protected runs are left, the store stays over its
    cap. A cap in bytes skips runs without a model file, which free nothing.

    Args:
        runs: `RunStore` runs, newest first (columns id, created, owner, model_size, and
            address: the saving address's key, missing or None when unknown).
        quota: The caps.
        recent_saves: Saves of the last day per group (`group_of`), pruned runs included;
            None counts only the runs held.

    Returns:
        The ids to delete, in the order they were chosen.
    """
    records = _records(runs)
    position = {record.id: index for index, record in enumerate(records)}
    doomed: list[str] = []
    if quota.max_age_days is not None:
        cutoff = pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=quota.max_age_days)
        doomed += [record.id for record in records if record.created < cutoff]
    gone = set(doomed)
    kept: dict[str | None, list[_Record]] = {}
    for record in records:
        if record.id not in gone:
            kept.setdefault(record.owner, []).append(record)

    def drop(record: _Record) -> None:
        kept[record.owner].remove(record)
        if not kept[record.owner]:
            del kept[record.owner]
        doomed.append(record.id)

    def oldest(candidates: list[_Record], needs_bytes: bool) -> _Record:
        return next((run for run in candidates if run.size > 0 or not needs_bytes), candidates[0])

    for owner in list(kept):
        while quota.max_runs_per_owner is not None and len(kept[owner]) > quota.max_runs_per_owner:
            drop(kept[owner][0])
        while (
            quota.max_bytes_per_owner is not None
            and len(kept[owner]) > 1
            and sum(run.size for run in kept[owner]) > quota.max_bytes_per_owner
        ):
            drop(oldest(kept[owner], needs_bytes=True))

    def alive() -> list[_Record]:
        return sorted(
            (run for runs_ in kept.values() for run in runs_), key=lambda run: position[run.id]
        )

    protected = _protected(alive(), quota)
    volume = recent_saves or {}

    def drop_from_busiest_group(needs_bytes: bool) -> bool:
        """Drop the oldest unprotected run of the busiest group; False when none is left."""
        everyone = alive()
        held: dict[str | None, int] = {}
        for run in everyone:
            held[run.group] = held.get(run.group, 0) + (run.size if needs_bytes else 1)
        candidates = [
            run for run in everyone if run.id not in protected and (run.size > 0 or not needs_bytes)
        ]
        if not candidates:
            return False
        first_seen: dict[str | None, _Record] = {}
        for run in candidates:
            first_seen.setdefault(run.group, run)

        def busy(group: str | None) -> tuple[int, int, int]:
            # Counting runs, the group that saved the most lately goes first; counting bytes,
            # the one holding the most (a run too large for the store goes first).
            lately, holding = volume.get(group, 0), held[group]
            first = (holding, lately) if needs_bytes else (lately, holding)
            return (*first, -position[first_seen[group].id])  # Ties: the oldest run.

        busiest = max(first_seen, key=busy)
        drop(first_seen[busiest])
        return True

    while quota.max_runs is not None and len(alive()) > quota.max_runs:
        if not drop_from_busiest_group(needs_bytes=False):
            break
    while quota.max_bytes is not None and sum(run.size for run in alive()) > quota.max_bytes:
        if not drop_from_busiest_group(needs_bytes=True):
            break
    return doomed


def _size(value: Any) -> int:
    """A model size from the table as bytes (0 for a run without a model file)."""
    return 0 if value is None or pd.isna(value) else int(value)
