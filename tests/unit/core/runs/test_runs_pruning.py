"""Pruning that no one can aim at other visitors, and the store's record of addresses.

An owner is a cookie, which anyone can mint, so these tests flood the store with the demo's
quota from many cookies (from one network address, and from many) and check that visitors
who came first keep their newest runs; and that a store written before addresses were
recorded still opens. Each test of the store runs on SQLite and on PostgreSQL (the
`database_url` fixture), but the one about a SQLite file of schema 1.
"""

import sqlite3

import pytest
import sqlalchemy as sa

from core.runs import RunStore, RunStoreFullError
from core.runs.pruning import PruneQuota, protected_runs
from core.settings import DEMO_LIMITS
from core.visitors.identity import address_for_limits

VISITORS = 10
RUNS_PER_VISITOR = 5  # the demo protects each visitor's newest five


def demo_store(folder, database_url=None, **changes) -> RunStore:
    """A run store with the demo profile's quota (as `ui.run_store` builds it)."""
    limits = DEMO_LIMITS
    quota = {
        "max_runs": limits.max_runs,
        "max_age_days": limits.max_run_age_days,
        "max_runs_per_owner": limits.max_runs_per_visitor,
        "max_bytes": limits.max_store_bytes,
        "max_bytes_per_owner": limits.max_bytes_per_visitor,
        "protected_runs_per_owner": limits.protected_runs_per_visitor,
        "protected_runs_per_address": limits.protected_runs_per_address,
        "max_saves_per_address_per_day": limits.max_runs_per_address_per_day,
    }
    return RunStore(folder, database_url=database_url, **{**quota, **changes})


def save(store: RunStore, owner: str, address: str | None, name: str = "run") -> str:
    return store.save_run(
        "baseline", name, {}, None, {"test_accuracy": 0.9}, {}, owner=owner, address=address
    )


def flood(store: RunStore, owners_and_addresses) -> tuple[int, int]:
    """Save one run per (owner, address); return (kept, refused)."""
    kept = refused = 0
    for owner, address in owners_and_addresses:
        try:
            save(store, owner, address)
            kept += 1
        except RunStoreFullError:
            refused += 1
    return kept, refused


def established_visitors(store: RunStore) -> dict[str, list[str]]:
    """Ten visitors from ten addresses, five runs each; return owner -> run ids, oldest first."""
    return {
        f"visitor{index}": [
            save(store, f"visitor{index}", f"8.8.{index}.1", f"visitor{index} run {run}")
            for run in range(RUNS_PER_VISITOR)
        ]
        for index in range(VISITORS)
    }


def surviving(store: RunStore, visitors: dict[str, list[str]]) -> int:
    ids = set(store.list_runs()["id"])
    return sum(len(set(runs) & ids) for runs in visitors.values())


def test_a_flood_of_cookies_from_one_address_leaves_earlier_visitors_runs_alone(
    tmp_path, database_url
):
    store = demo_store(tmp_path, database_url, max_saves_per_address_per_day=None)
    visitors = established_visitors(store)
    kept, refused = flood(store, [(f"cookie{index}", "9.9.9.9") for index in range(200)])
    # Before: the 200 one-run cookies deleted all 50 runs of the 10 visitors.
    assert surviving(store, visitors) == VISITORS * RUNS_PER_VISITOR
    assert (kept, refused) == (200, 0)  # the flood only ever pushes out its own runs
    runs = store.list_runs()
    assert len(runs) == DEMO_LIMITS.max_runs
    assert (runs["owner"].str.startswith("cookie")).sum() == DEMO_LIMITS.max_runs - 50


def test_a_flooding_address_is_refused_with_a_sentence_after_its_daily_runs(tmp_path, database_url):
    store = demo_store(tmp_path, database_url)
    visitors = established_visitors(store)
    daily = DEMO_LIMITS.max_runs_per_address_per_day
    kept, refused = flood(store, [(f"cookie{index}", "9.9.9.9") for index in range(daily + 30)])
    assert (kept, refused) == (daily, 30)
    assert surviving(store, visitors) == VISITORS * RUNS_PER_VISITOR
    with pytest.raises(RunStoreFullError, match=f"at most {daily} runs a day from your network"):
        store.check_room("yet another cookie", "9.9.9.9")
    store.check_room("someone else", "9.9.9.10")  # another address is not refused


def test_every_address_of_one_ipv6_64_shares_the_daily_runs(tmp_path, database_url):
    store = demo_store(tmp_path, database_url, max_saves_per_address_per_day=2)
    for index in (1, 2):  # as ui.visitor_address gives them: the /64
        save(store, f"cookie{index}", address_for_limits(f"2a00:1450:4001:81c::{index}"))
    with pytest.raises(RunStoreFullError, match="at most 2 runs a day"):
        store.check_room("cookie3", address_for_limits("2a00:1450:4001:81c:ffff::3"))
    store.check_room("cookie3", address_for_limits("2a00:1450:4001:81d::3"))


def test_a_flood_from_many_addresses_is_refused_once_only_protected_runs_are_left(
    tmp_path, database_url
):
    store = demo_store(tmp_path, database_url)
    visitors = established_visitors(store)
    addresses = [f"9.{index // 250}.{index % 250}.1" for index in range(200)]
    kept, refused = flood(store, [(f"cookie{i}", address) for i, address in enumerate(addresses)])
    assert surviving(store, visitors) == VISITORS * RUNS_PER_VISITOR
    assert (kept, refused) == (DEMO_LIMITS.max_runs - 50, 50)
    assert len(store.list_runs()) == DEMO_LIMITS.max_runs
    with pytest.raises(RunStoreFullError, match="The run store is full"):
        save(store, "newcomer", "7.7.7.7")
    # An established visitor still saves: their own oldest run makes room.
    oldest = visitors["visitor3"][0]
    newest = save(store, "visitor3", "8.8.3.1", "a sixth run")
    ids = set(store.list_runs()["id"])
    assert newest in ids and oldest not in ids
    assert len(ids) == DEMO_LIMITS.max_runs


def test_first_visitors_of_an_address_keep_their_protection_against_new_cookies(
    tmp_path, database_url
):
    # A classroom behind one address: the first four students' newest runs stay protected.
    store = demo_store(tmp_path, database_url, max_runs=30, max_saves_per_address_per_day=None)
    students = {
        f"student{index}": [save(store, f"student{index}", "5.5.5.5") for _ in range(5)]
        for index in range(4)
    }
    flood(store, [(f"cookie{index}", "5.5.5.5") for index in range(60)])
    assert surviving(store, students) == 20
    assert len(store.list_runs()) == 30


def test_protected_runs_are_each_owners_newest_first_come_first_served():
    import pandas as pd

    rows = [  # Newest first; "late" came after "early", both from address "a:1".
        ("r7", "late", "a:1"), ("r6", "late", "a:1"), ("r5", "early", "a:1"),
        ("r4", "early", "a:1"), ("r3", "early", "a:1"), ("r2", "other", None),
        ("r1", "other", None),
    ]  # fmt: skip
    runs = pd.DataFrame(
        {
            "id": [row[0] for row in rows],
            "owner": [row[1] for row in rows],
            "address": [row[2] for row in rows],
            "model_size": [0] * len(rows),
            "created": pd.date_range("2026-01-01", periods=len(rows), tz="UTC")[::-1],
        }
    )
    quota = PruneQuota(protected_runs_per_owner=2, protected_runs_per_address=3)
    assert protected_runs(runs, quota) == {"r5", "r4", "r7", "r2", "r1"}
    assert protected_runs(runs, PruneQuota()) == set()


def test_the_store_keeps_a_keyed_hash_of_the_address_never_the_address(tmp_path, database_url):
    store = demo_store(tmp_path, database_url)
    save(store, "visitor", "8.8.4.4")
    save(store, "visitor", "2001:4860:4860::/64")
    if database_url is None:
        data = b"".join(path.read_bytes() for path in tmp_path.glob("runs.sqlite*"))
        assert b"8.8.4.4" not in data and b"2001:4860" not in data
    engine = sa.create_engine(store.database.url)
    with engine.connect() as connection:
        # Every value of every table, as text: no address in any of them.
        everything = " ".join(
            str(value)
            for table in sa.inspect(connection).get_table_names()
            for row in connection.execute(sa.text(f"SELECT * FROM {table}"))
            for value in row
        )
        keys = set(connection.execute(sa.text("SELECT address FROM runs")).scalars())
    engine.dispose()
    assert "8.8.4.4" not in everything and "2001:4860" not in everything
    assert len(keys) == 2 and all(key.startswith("a:") and len(key) == 18 for key in keys)
    # The same address gives the same key after reopening (the key lives in the store).
    reopened = RunStore(tmp_path, database_url=database_url)
    assert reopened._records.address_key("8.8.4.4") in keys


SCHEMA_1 = """
CREATE TABLE runs (
    id TEXT PRIMARY KEY, created TEXT NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL,
    status TEXT NOT NULL, owner TEXT, dataset TEXT, summary TEXT, parameters INTEGER,
    epochs INTEGER, train_seconds REAL, predict_seconds REAL, test_accuracy REAL,
    test_loss REAL, model_file TEXT, model_size INTEGER, model_sha256 TEXT,
    config_json TEXT NOT NULL, history_json TEXT NOT NULL, metrics_json TEXT NOT NULL,
    timings_json TEXT NOT NULL, confusion_json TEXT
);
CREATE INDEX runs_owner ON runs (owner);
PRAGMA user_version = 1;
"""


def test_a_store_written_before_addresses_were_recorded_opens_and_keeps_its_runs(tmp_path):
    with sqlite3.connect(tmp_path / "runs.sqlite") as connection:
        connection.executescript(SCHEMA_1)
        for index, owner in enumerate(["ann", "bob", "ann"]):
            connection.execute(
                "INSERT INTO runs (id, created, name, kind, status, owner, config_json, "
                "history_json, metrics_json, timings_json) "
                "VALUES (?, ?, ?, 'baseline', 'finished', ?, '{}', '{}', '{}', '{}')",
                (f"20260101-00000{index}-aaaaaa", f"2026-01-01T00:00:0{index}+00:00",
                 f"old {index}", owner),
            )  # fmt: skip
    store = demo_store(tmp_path)
    assert store.problems() == []
    assert list(store.list_runs()["name"]) == ["old 2", "old 1", "old 0"]
    assert sorted(store.run_numbers(owner="ann").values()) == [1, 2]
    new = save(store, "ann", "8.8.8.8")
    assert store.run_numbers(owner="ann")[new] == 3
    with sqlite3.connect(tmp_path / "runs.sqlite") as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == 3
    assert RunStore(tmp_path).list_runs()["name"].tolist()[:1] == ["run"]


def test_run_numbers_are_per_visitor_and_tell_nothing_about_others(tmp_path, database_url):
    store = RunStore(tmp_path, database_url=database_url)
    for index in range(7):
        save(store, "earlier visitor", None, f"theirs {index}")
    mine = [save(store, "me", None, f"mine {index}") for index in range(2)]
    assert [store.run_numbers(owner="me")[run_id] for run_id in mine] == [1, 2]
    assert store.run_numbers()[mine[0]] == 8  # across the store (local use): saving order
    # A session's runs adopted by its cookie's id are numbered after the cookie's own.
    adopted = save(store, "tab id", None, "from a tab")
    store.transfer_owner("tab id", "me")
    assert store.run_numbers(owner="me")[adopted] == 3
    store.delete_run(mine[0])
    assert store.run_numbers(owner="me") == {mine[1]: 2, adopted: 3}
