"""The server-wide memory budget: byte accounting, oldest released first, ended sessions."""

import threading

import pytest

from core.visitors.memory_budget import MemoryBudget, MemoryBudgetError


def test_holds_and_counts_bytes_per_owner():
    budget = MemoryBudget(1000)
    assert budget.hold("a", "dataset", "A", 300) == []
    budget.hold("b", "dataset", "B", 200)
    budget.hold("a", "picture", "P", 100)
    assert budget.get("a", "dataset") == "A"
    assert budget.get("a", "missing", default="none") == "none"
    assert (budget.held_bytes, budget.owner_bytes("a"), budget.owner_bytes("b")) == (600, 400, 200)
    assert budget.owner_bytes("a", lambda key: key == "picture") == 100


def test_replacing_a_key_counts_it_once_and_releases_the_old_value():
    released = []
    budget = MemoryBudget(1000)
    budget.hold("a", "dataset", "old", 600, on_release=lambda: released.append("old"))
    budget.hold("a", "dataset", "new", 700)
    assert (budget.get("a", "dataset"), budget.held_bytes, released) == ("new", 700, ["old"])


def test_over_budget_the_oldest_items_of_other_owners_go_first():
    released = []
    budget = MemoryBudget(1000)
    for owner in ("first", "second", "third"):
        budget.hold(owner, "dataset", owner, 300, on_release=lambda o=owner: released.append(o))
    assert budget.hold("fourth", "dataset", "fourth", 300) == [("first", "dataset")]
    assert released == ["first"]
    assert budget.get("first", "dataset") is None
    assert budget.get("second", "dataset") == "second"
    assert budget.held_bytes == 900
    # Needing 600 more bytes releases the two oldest, and never more than needed.
    assert budget.hold("fifth", "dataset", "fifth", 700) == [
        ("second", "dataset"),
        ("third", "dataset"),
    ]
    assert budget.owners() == {"fourth", "fifth"}
    assert budget.held_bytes == 1000


def test_an_owner_loses_its_own_older_items_only_after_everyone_elses():
    budget = MemoryBudget(1000)
    budget.hold("me", "old", "mine", 400)
    budget.hold("other", "dataset", "theirs", 400)
    assert budget.hold("me", "new", "mine too", 500) == [("other", "dataset")]
    assert budget.hold("me", "newest", "again", 500) == [("me", "old")]
    assert budget.owner_bytes("me") == 1000


def test_an_item_larger_than_the_budget_is_refused_and_nothing_is_released():
    budget = MemoryBudget(1000)
    budget.hold("a", "dataset", "A", 600)
    with pytest.raises(MemoryBudgetError, match="more than this server keeps"):
        budget.hold("b", "dataset", "B", 1001)
    assert budget.get("a", "dataset") == "A"
    assert budget.held_bytes == 600


def test_release_owner_releases_all_of_its_items_and_calls_their_callbacks():
    released = []
    budget = MemoryBudget(1000)
    budget.hold("a", "dataset", "A", 100, on_release=lambda: released.append("dataset"))
    budget.hold("a", ("upload", "f1"), None, 50, on_release=lambda: released.append("f1"))
    budget.hold("b", "dataset", "B", 100)
    assert budget.release_owner("a") == 2
    assert sorted(released) == ["dataset", "f1"]
    assert budget.owners() == {"b"}
    assert budget.held_bytes == 100
    assert budget.release_owner("a") == 0
    assert budget.release("b", "dataset") is True
    assert budget.release("b", "dataset") is False
    assert budget.held_bytes == 0


def test_a_failing_callback_does_not_stop_the_others():
    released = []
    budget = MemoryBudget(1000)

    def fail() -> None:
        raise RuntimeError("boom")

    budget.hold("a", "x", 1, 10, on_release=fail)
    budget.hold("a", "y", 2, 10, on_release=lambda: released.append("y"))
    assert budget.release_owner("a") == 2
    assert released == ["y"]


def test_ended_sessions_are_released_after_their_grace_time():
    now = [0.0]
    budget = MemoryBudget(1000, clock=lambda: now[0])
    budget.hold("gone", "dataset", "G", 100)
    budget.hold("back", "dataset", "B", 100)
    budget.hold("here", "dataset", "H", 100)
    alive = {"here"}
    assert budget.release_ended(lambda owner: owner in alive, grace_seconds=120) == []
    now[0] = 60.0
    alive.add("back")  # Reconnected within the grace time: its clock starts again.
    assert budget.release_ended(lambda owner: owner in alive, grace_seconds=120) == []
    alive.discard("back")
    now[0] = 121.0
    assert budget.release_ended(lambda owner: owner in alive, grace_seconds=120) == ["gone"]
    assert budget.owners() == {"back", "here"}
    now[0] = 200.0
    assert budget.release_ended(lambda owner: owner in alive, grace_seconds=120) == []
    now[0] = 182.0 + 120
    assert budget.release_ended(lambda owner: owner in alive, grace_seconds=120) == ["back"]
    assert budget.owners() == {"here"}


def test_threads_holding_at_once_never_exceed_the_budget_or_lose_bytes():
    budget = MemoryBudget(10_000)
    released_bytes = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def visitor(number: int) -> None:
        start.wait()
        for item in range(500):
            size = 100 + (number * 37 + item * 11) % 900

            def on_release(size: int = size) -> None:
                with lock:
                    released_bytes.append(size)

            budget.hold(f"session-{number}", item % 7, (number, item), size, on_release)
            assert budget.held_bytes <= 10_000
            budget.get(f"session-{number}", item % 5)
        budget.release_owner(f"session-{number}" if number % 2 else "nobody")

    threads = [threading.Thread(target=visitor, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    held_sizes = [budget.owner_bytes(owner) for owner in budget.owners()]
    total_held_by_visitors = sum(
        100 + (number * 37 + item * 11) % 900 for number in range(8) for item in range(500)
    )
    # Every byte held was either released once or is still held: nothing lost, nothing twice.
    assert sum(released_bytes) + budget.held_bytes == total_held_by_visitors
    assert budget.held_bytes == sum(held_sizes) <= 10_000
    assert all(owner in {f"session-{n}" for n in range(0, 8, 2)} for owner in budget.owners())
