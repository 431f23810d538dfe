"""Room in a run store: whether a new run would be kept, and which runs to prune.

Applies a `PruneQuota` to what the database holds (`core.runs.database.RunRecords`): the
saves of the last 24 hours per network address, and the runs `runs_to_prune` would delete
(`core.runs.pruning` decides; this module reads the rows it decides on).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from core.runs.database import RunRecords
from core.runs.errors import RunStoreError, RunStoreFullError
from core.runs.pruning import PruneQuota, group_of, runs_to_prune


def recent_volume(records: RunRecords) -> dict[str | None, int]:
    """Saves of the last 24 hours per group (address key, else ``owner:<owner>``)."""
    volume: dict[str | None, int] = {}
    for (owner, key), count in records.recent_saves_by_group().items():
        group = group_of(owner, key)
        volume[group] = volume.get(group, 0) + count
    return volume


def check_room(
    records: RunRecords, quota: PruneQuota, owner: str | None, address: str | None
) -> None:
    """Raise unless a new run of ``owner`` from ``address`` would be kept now.

    See `core.runs.store.RunStore.check_room`, which calls it with the store's quota.

    Raises:
        RunStoreFullError: With a sentence saying why and when to try again.
        DamagedRunStoreError: If the database cannot be read.
    """
    if quota.max_saves_per_address_per_day is None and quota.max_runs is None:
        return
    records.raise_if_damaged()
    key = records.address_key(address)
    group = group_of(owner, key)
    volume = recent_volume(records)
    cap = quota.max_saves_per_address_per_day
    if cap is not None and group is not None and volume.get(group, 0) >= cap:
        who = "your network address" if key else "this browser"
        raise RunStoreFullError(
            f"This app keeps at most {cap} runs a day from {who}, and that many were "
            "saved in the last 24 hours, so no new run is kept for now. Try again later."
        )
    if quota.max_runs is None:
        return
    incoming = "~incoming"  # The newest run, as the runs are listed newest first.
    newest = {
        "id": incoming,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "owner": owner,
        "address": key,
        "model_size": 0,
    }
    runs = pd.DataFrame([newest, *records.prune_rows()])
    runs["created"] = pd.to_datetime(runs["created"], utc=True, format="ISO8601")
    doomed = runs_to_prune(runs, quota, volume)
    if incoming in doomed or len(runs) - len(doomed) > quota.max_runs:
        raise RunStoreFullError(
            f"The run store is full: it keeps {quota.max_runs} runs, and the runs in it "
            "are other visitors' newest, which are never deleted to make room. No new "
            "run is kept for now; try again later."
        )


def runs_over_quota(records: RunRecords, quota: PruneQuota) -> list[str]:
    """Return the ids of the runs to delete to keep within ``quota`` (none if unreadable)."""
    try:
        rows = records.prune_rows()
    except RunStoreError:
        return []
    runs = pd.DataFrame(rows, columns=["id", "created", "owner", "address", "model_size"])
    runs["created"] = pd.to_datetime(runs["created"], utc=True, format="ISO8601")
    return runs_to_prune(runs, quota, recent_volume(records))
