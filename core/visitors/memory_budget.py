"""A server-wide memory budget for what visitors make the server hold, oldest released first.

Uploaded datasets, uploaded files and decoded pictures are held here under their owner (a
browser session) and a key, with their size in bytes. When a new item would take the total
over the budget, the oldest items of other owners are released (their `on_release` callback
runs), then, if still needed, the same owner's older items. The owner of a released item
finds it gone (`get` returns None) and can tell its visitor to load it again.

This is plain Python with one lock, deliberately not a Streamlit cache: any client can clear
Streamlit's caches for every visitor, and this state must survive that.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from core import settings
from core.data.datasets import MEGABYTE
from core.singletons import process_singleton

_LOGGER = logging.getLogger(__name__)

# Streamlit keeps a disconnected session for two minutes (`server.disconnectedSessionTTL`) so
# that it can reconnect; its items are released once its session has been gone that long.
ENDED_SESSION_GRACE_SECONDS = 120.0
SWEEP_SECONDS = 30.0

ReleaseCallback = Callable[[], None]


# The budget's key among the process singletons.
SINGLETON_KEY = "memory_budget"


class MemoryBudgetError(ValueError):
    """An item is larger than the whole memory budget."""


@dataclass
class _Item:
    value: Any
    nbytes: int
    on_release: ReleaseCallback | None
    order: int


class MemoryBudget:
    """Bytes held for visitors, keyed by (owner, key), oldest released first. Thread-safe.

    Args:
        budget_bytes: The most bytes all owners' items may take together.
        clock: Seconds on a monotonic clock (tests pass their own).
    """

    def __init__(self, budget_bytes: int, clock: Callable[[], float] = time.monotonic) -> None:
        if budget_bytes <= 0:
            raise ValueError("The memory budget must be a positive number of bytes.")
        self.budget_bytes = budget_bytes
        self._clock = clock
        self._lock = threading.Lock()
        self._items: dict[tuple[Hashable, Hashable], _Item] = {}
        self._held_bytes = 0
        self._order = itertools.count()
        self._gone_since: dict[Hashable, float] = {}
        self._sweeper: threading.Thread | None = None

    @property
    def held_bytes(self) -> int:
        """Bytes all items take now."""
        with self._lock:
            return self._held_bytes

    def owner_bytes(
        self, owner: Hashable, key_filter: Callable[[Hashable], bool] | None = None
    ) -> int:
        """Bytes the items of `owner` (those whose key passes `key_filter`) take now."""
        with self._lock:
            return sum(
                item.nbytes
                for (who, key), item in self._items.items()
                if who == owner and (key_filter is None or key_filter(key))
            )

    def owners(self) -> set[Hashable]:
        """The owners that hold at least one item."""
        with self._lock:
            return {owner for owner, _ in self._items}

    def hold(
        self,
        owner: Hashable,
        key: Hashable,
        value: Any,
        nbytes: int,
        on_release: ReleaseCallback | None = None,
    ) -> list[tuple[Hashable, Hashable]]:
        """Hold `value` for `owner` under `key` (replacing what that key held).

        Args:
            owner: Who the item belongs to (a session id).
            key: Which of the owner's items it is (e.g. ``"explore_dataset"``).
            value: What to keep; `get` returns it.
            nbytes: The memory it takes, in bytes.
            on_release: Called (outside the lock) when the budget releases the item to make
                room, or when it is replaced or released; not called by `hold`'s refusal.

        Returns:
            The (owner, key) pairs released to make room, oldest first.

        Raises:
            MemoryBudgetError: If `nbytes` alone is over the whole budget.
        """
        if nbytes > self.budget_bytes:
            raise MemoryBudgetError(
                f"This takes {nbytes / MEGABYTE:,.0f} MB of memory, more than this server "
                f"keeps for all its visitors together ({self.budget_bytes / MEGABYTE:,.0f} "
                "MB); use a smaller file."
            )
        callbacks: list[ReleaseCallback] = []
        released: list[tuple[Hashable, Hashable]] = []
        with self._lock:
            replaced = self._items.pop((owner, key), None)
            if replaced is not None:
                self._held_bytes -= replaced.nbytes
                if replaced.on_release is not None and replaced.value is not value:
                    callbacks.append(replaced.on_release)
            # Other owners' oldest items first, then this owner's own older ones.
            by_age = sorted(self._items.items(), key=lambda entry: entry[1].order)
            candidates = [entry for entry in by_age if entry[0][0] != owner]
            candidates += [entry for entry in by_age if entry[0][0] == owner]
            for item_key, item in candidates:
                if self._held_bytes + nbytes <= self.budget_bytes:
                    break
                del self._items[item_key]
                self._held_bytes -= item.nbytes
                released.append(item_key)
                if item.on_release is not None:
                    callbacks.append(item.on_release)
            self._items[(owner, key)] = _Item(value, nbytes, on_release, next(self._order))
            self._held_bytes += nbytes
        if released:
            _LOGGER.info("Memory budget: released %s to hold %s bytes", released, nbytes)
        _run_callbacks(callbacks)
        return released

    def get(self, owner: Hashable, key: Hashable, default: Any = None) -> Any:
        """Return what `owner` holds under `key`, or `default` if nothing (or released)."""
        with self._lock:
            item = self._items.get((owner, key))
        return default if item is None else item.value

    def release(self, owner: Hashable, key: Hashable) -> bool:
        """Release one item (its `on_release` runs); return whether it was held."""
        with self._lock:
            item = self._items.pop((owner, key), None)
            if item is not None:
                self._held_bytes -= item.nbytes
        if item is None:
            return False
        _run_callbacks([item.on_release] if item.on_release else [])
        return True

    def release_owner(self, owner: Hashable) -> int:
        """Release every item of `owner` (e.g. when its session ends); return how many."""
        with self._lock:
            keys = [item_key for item_key in self._items if item_key[0] == owner]
            items = [self._items.pop(item_key) for item_key in keys]
            self._held_bytes -= sum(item.nbytes for item in items)
            self._gone_since.pop(owner, None)
        _run_callbacks([item.on_release for item in items if item.on_release is not None])
        return len(items)

    def release_ended(
        self,
        is_alive: Callable[[Hashable], bool],
        grace_seconds: float = ENDED_SESSION_GRACE_SECONDS,
    ) -> list[Hashable]:
        """Release the items of owners that have not been alive for `grace_seconds`.

        Args:
            is_alive: Whether an owner (a session) is still connected.
            grace_seconds: How long an owner may be away (to reconnect) and keep its items.

        Returns:
            The owners released.
        """
        now = self._clock()
        ended = []
        for owner in self.owners():
            if is_alive(owner):
                with self._lock:
                    self._gone_since.pop(owner, None)
                continue
            with self._lock:
                since = self._gone_since.setdefault(owner, now)
            if now - since >= grace_seconds:
                ended.append(owner)
        for owner in ended:
            self.release_owner(owner)
        with self._lock:
            for owner in set(self._gone_since) - {owner for owner, _ in self._items}:
                del self._gone_since[owner]
        return ended

    def start_sweeper(
        self,
        is_alive: Callable[[Hashable], bool],
        every_seconds: float = SWEEP_SECONDS,
        grace_seconds: float = ENDED_SESSION_GRACE_SECONDS,
    ) -> None:
        """Run `release_ended` every `every_seconds` on one daemon thread (started once)."""
        with self._lock:
            if self._sweeper is not None:
                return
            self._sweeper = threading.Thread(
                target=self._sweep_forever,
                args=(is_alive, every_seconds, grace_seconds),
                name="memory-budget-sweeper",
                daemon=True,
            )
        self._sweeper.start()

    def _sweep_forever(
        self, is_alive: Callable[[Hashable], bool], every_seconds: float, grace_seconds: float
    ) -> None:
        while True:
            time.sleep(every_seconds)
            try:
                self.release_ended(is_alive, grace_seconds)
            except Exception:  # The sweeper must outlive a failing check.
                _LOGGER.exception("Memory budget: the sweep of ended sessions failed")


def _run_callbacks(callbacks: list[ReleaseCallback]) -> None:
    for callback in callbacks:
        try:
            callback()
        except Exception:  # One owner's clean-up must not stop another's.
            _LOGGER.exception("Memory budget: a release callback failed")


def server_budget() -> MemoryBudget:
    """Return the process's one budget (`core.singletons`), sized by the `memory_budget_mb`
    setting; a changed setting resizes it (held items stay until a `hold` needs room)."""
    budget_bytes = settings.limits().memory_budget_mb * MEGABYTE
    budget = process_singleton(SINGLETON_KEY, lambda: MemoryBudget(budget_bytes))
    budget.budget_bytes = budget_bytes
    return budget
