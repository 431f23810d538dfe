"""Classes: codes, names, challenges and the leaderboard, and the class store on both backends."""

from __future__ import annotations

import math
import threading
import time

import pytest

from core.classes import (
    ACCURACY_WITHIN_PARAMETERS,
    ACCURACY_WITHIN_SECONDS,
    BEST_ACCURACY,
    FEWEST_PARAMETERS,
    Challenge,
    ClassError,
    ClassStore,
    Entry,
    checked_name,
    code_space,
    guesses_for_even_odds,
    leaderboard,
    leaderboard_table,
    normalise_code,
    results_table,
    shared_settings,
)
from core.classes.codes import ALPHABET, new_class_code
from core.classes.names import name_key
from core.runs import RunStore


def entry(student, accuracy, parameters=100_000, seconds=10.0, created="2026-12-04T10:00:00+00:00",
          status="finished", run_id=None, **config):  # fmt: skip
    return Entry(
        run_id=run_id or f"{student}-{accuracy}-{parameters}-{created}", student=student,
        created=created, status=status, test_accuracy=accuracy, parameters=parameters,
        train_seconds=seconds, summary="", config=config,
    )  # fmt: skip


# --- Codes and names ---------------------------------------------------------------------


def test_a_code_reads_back_whatever_the_case_spaces_and_dashes():
    code = new_class_code()
    assert len(code) == 9 and code[4] == "-"
    assert all(character in ALPHABET for character in code.replace("-", ""))
    assert normalise_code(code.lower().replace("-", " ")) == code
    assert normalise_code(code.replace("-", "")) == code
    # Letters read alike are not in the alphabet: a code holding one cannot be a code.
    assert normalise_code("O0I1-L5S2") is None
    assert normalise_code("ABC") is None
    assert normalise_code("A" * 1000) is None
    assert normalise_code(None) is None


def test_codes_are_too_many_to_guess_in_useful_time():
    assert code_space() == 25**8  # 152,587,890,625
    # With 10,000 live classes (the most a store keeps open), half a chance of hitting one
    # takes ten million guesses; at 100 guesses a second (each one a page run), 29 hours.
    guesses = guesses_for_even_odds(10_000)
    assert 1.0e7 < guesses < 1.1e7
    assert guesses_for_even_odds(0) == math.inf
    assert len({new_class_code() for _ in range(2000)}) == 2000


@pytest.mark.parametrize(
    ("typed", "kept"),
    [("  Ana   María ", "Ana María"), ("Zoë", "Zoë"), ("O'Brien-2", "O'Brien-2"), ("李", "李")],
)
def test_a_name_is_cleaned(typed, kept):
    assert checked_name(typed) == kept


@pytest.mark.parametrize(
    "typed",
    ["", "   ", "x" * 31, "x" * 10_000, "evil\u202eman", "zero\u200bwidth", "tab\x07", None, 5],
)
def test_a_name_that_is_not_one_is_refused_with_a_reason(typed):
    with pytest.raises(ValueError, match=r"name"):
        checked_name(typed)


def test_names_equal_without_case_or_unicode_form_are_one_name():
    assert name_key("ANA") == name_key("ana")
    assert name_key("Jose\u0301") == name_key("Jos\u00e9".upper())


# --- Challenges and the leaderboard ------------------------------------------------------


def test_the_leaderboard_keeps_each_students_best_and_shares_ranks_on_ties():
    challenge = Challenge(BEST_ACCURACY)
    entries = [
        entry("ana", 0.97, created="2026-12-04T10:05:00+00:00"),
        entry("ana", 0.98, created="2026-12-04T10:09:00+00:00"),
        entry("ben", 0.98, created="2026-12-04T10:07:00+00:00"),  # Same score, earlier.
        entry("cem", 0.95),
        entry("dia", None, status="interrupted"),
    ]
    rows = leaderboard(challenge, entries)
    assert [(row.rank, row.entry.student, row.score) for row in rows] == [
        (1, "ben", 0.98),
        (1, "ana", 0.98),
        (3, "cem", 0.95),
    ]
    assert challenge.keeps(entries[-1]) == "no test score (interrupted)"


def test_a_parameter_budget_leaves_out_bigger_networks_but_a_stopped_run_counts():
    challenge = Challenge(ACCURACY_WITHIN_PARAMETERS, 50_000)
    entries = [
        entry("ana", 0.99, parameters=101_770),
        entry("ana", 0.96, parameters=25_450, status="stopped"),
        entry("ben", 0.97, parameters=50_000),
    ]
    rows = leaderboard(challenge, entries)
    assert [(row.rank, row.entry.student, row.entry.status) for row in rows] == [
        (1, "ben", "finished"),
        (2, "ana", "stopped"),
    ]
    assert challenge.keeps(entries[0]) == "101,770 parameters, over 50,000"
    assert "over the class's 50,000" in challenge.before_training(101_770)


def test_fewest_parameters_ranks_small_networks_that_reach_the_accuracy():
    challenge = Challenge(FEWEST_PARAMETERS, 0.97)
    entries = [
        entry("ana", 0.975, parameters=30_000),
        entry("ben", 0.99, parameters=30_000, created="2026-12-04T11:00:00+00:00"),
        entry("cem", 0.969, parameters=1_000),  # Smallest, but short of 97%.
        entry("dia", 0.98, parameters=12_000),
    ]
    rows = leaderboard(challenge, entries)
    # Equal parameters: the more accurate first, both sharing rank 2.
    assert [(row.rank, row.entry.student, row.score) for row in rows] == [
        (1, "dia", 12_000.0),
        (2, "ben", 30_000.0),
        (2, "ana", 30_000.0),
    ]
    table = leaderboard_table(challenge, entries)
    assert table["score"].tolist() == [12_000, 30_000, 30_000]


def test_a_time_limit_counts_training_seconds():
    challenge = Challenge(ACCURACY_WITHIN_SECONDS, 30)
    rows = leaderboard(
        challenge, [entry("ana", 0.99, seconds=31.0), entry("ana", 0.97, seconds=29.5)]
    )
    assert [row.entry.train_seconds for row in rows] == [29.5]
    assert challenge.describe() == "Highest test accuracy in at most 30 s of training"


@pytest.mark.parametrize(
    ("kind", "limit"),
    [(ACCURACY_WITHIN_PARAMETERS, None), (ACCURACY_WITHIN_PARAMETERS, 10), (FEWEST_PARAMETERS, 1.5),
     (ACCURACY_WITHIN_SECONDS, math.nan), (BEST_ACCURACY, 5), ("most_fun", None)],
)  # fmt: skip
def test_a_challenge_that_cannot_be_checked_is_refused(kind, limit):
    with pytest.raises(ValueError):
        Challenge(kind, limit)


def test_the_settings_the_top_entries_share():
    top = [
        entry("a", 0.99, optimizer="adam", batch_size=128, hidden_layers=[256]),
        entry("b", 0.98, optimizer="adam", batch_size=64, hidden_layers=[256]),
    ]
    assert shared_settings(top, ("optimizer", "batch_size", "hidden_layers")) == {
        "optimizer": "adam",
        "hidden_layers": [256],
    }
    assert shared_settings([], ("optimizer",)) == {}


# --- The class store, on SQLite and PostgreSQL --------------------------------------------


@pytest.fixture
def stores(tmp_path, database_url):
    run_store = RunStore(tmp_path / "runs", database_url=database_url)
    yield run_store, ClassStore(run_store.database)
    run_store.database.dispose()


def save(run_store, owner, accuracy, parameters=101_770, status="finished", dataset="MNIST"):
    return run_store.save_run(
        "network", "run", {"optimizer": "adam", "hidden_layers": [128]}, {"loss": [0.5, 0.3]},
        {"test_accuracy": accuracy}, {"train_seconds": 12.5}, owner=owner, status=status,
        parameters=parameters, dataset=dataset,
    )  # fmt: skip


def test_a_class_ranks_its_students_runs_and_only_theirs(stores):
    run_store, classes = stores
    save(run_store, "ana-browser", 0.90)  # Before she joined: not the class's.
    time.sleep(1.1)  # Runs are stamped to the second.
    created = classes.create("Year 10", Challenge(BEST_ACCURACY), {"epochs": 3}, hours=2)
    info = created.info
    assert classes.for_teacher(created.secret) == info
    assert classes.for_teacher("x" * 43) is None
    assert classes.for_code(info.code.lower()) == info
    classes.join(info, "ana-browser", "Ana")
    classes.join(info, "ben-browser", "Ben")
    ana = save(run_store, "ana-browser", 0.97)
    save(run_store, "ben-browser", 0.95)
    save(run_store, "ben-browser", 0.99, dataset="my-files.gz")  # Own files: not comparable.
    save(run_store, "stranger", 0.999)  # Not in the class.
    entries = classes.entries(info)
    assert sorted((e.student, e.test_accuracy) for e in entries) == [("Ana", 0.97), ("Ben", 0.95)]
    assert [row.entry.student for row in leaderboard(info.challenge, entries)] == ["Ana", "Ben"]
    # The teacher removes Ana's entry, then takes Ben out: nothing is left.
    classes.share_run(info.id, ana)
    assert classes.marks(info.id) == {ana: "shared"}
    classes.share_run(info.id, ana, shared=False)
    assert classes.marks(info.id) == {}
    classes.share_run(info.id, ana)
    classes.hide_run(info.id, ana)  # Removed: no longer shared.
    classes.hide_run(info.id, ana)  # Twice is once.
    assert classes.marks(info.id) == {ana: "hidden"}
    assert [e.student for e in classes.entries(info)] == ["Ben"]
    classes.remove_student(info.id, "ben-browser")
    assert classes.entries(info) == []
    with pytest.raises(ClassError, match="took you out"):
        classes.join(info, "ben-browser", "Ben again")
    csv = results_table(info.challenge, classes.students(info.id), entries)
    assert csv["name"].tolist() == ["Ana", "Ben"] and csv["optimizer"].tolist() == ["adam"] * 2


def test_a_name_is_one_students_in_a_class_and_an_ended_class_takes_no_one(stores):
    _, classes = stores
    info = classes.create("Lesson", Challenge(FEWEST_PARAMETERS, 0.97)).info
    classes.join(info, "one", "Ana")
    with pytest.raises(ClassError, match="already called"):
        classes.join(info, "two", " ANA ")
    classes.join(info, "one", "Ana B")  # A rename.
    classes.join(info, "two", "Ana")  # Free again.
    membership = classes.membership("one")
    assert membership is not None and membership[1].name == "Ana B"
    other = classes.create("Other lesson", Challenge(BEST_ACCURACY)).info
    classes.join(other, "one", "Ana")  # The same name in another class is fine.
    assert classes.membership("one")[0].id == other.id  # The newest class is theirs.
    classes.end(info.id)
    with pytest.raises(ClassError, match="ended"):
        classes.join(info, "three", "Cem")
    ended = classes.for_code(info.code)
    assert ended is not None and not ended.is_open() and ended.closed_at() is not None
    classes.leave("one")
    assert classes.membership("one") is None
    with pytest.raises(ClassError, match="class title"):
        classes.create("   ", Challenge(BEST_ACCURACY))
    with pytest.raises(ClassError, match="hours"):
        classes.create("Too long", Challenge(BEST_ACCURACY), hours=10_000)


def test_students_racing_for_one_name_get_it_once(stores):
    _, classes = stores
    info = classes.create("Race", Challenge(BEST_ACCURACY)).info
    start = threading.Barrier(6)
    outcomes: list[str] = []

    def join(owner: str) -> None:
        start.wait()
        try:
            classes.join(info, owner, "Sam")
            outcomes.append("joined")
        except ClassError:
            outcomes.append("refused")
        except Exception as error:  # Anything else fails the test, named.
            outcomes.append(f"{type(error).__name__}: {error}")

    threads = [threading.Thread(target=join, args=(f"browser-{n}",)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["joined"] + ["refused"] * 5
    assert [student.name for student in classes.students(info.id)] == ["Sam"]


def test_what_the_top_entries_share_reads_as_words():
    from core.classes import shared_text

    common = {"architecture": "dense", "hidden_layers": [64], "conv_filters": [32, 64],
              "optimizer": "adam", "batch_norm": False}  # fmt: skip
    assert shared_text(common) == (
        "network dense, hidden layers 64, optimizer adam, batch normalisation off"
    )
    assert shared_text({"architecture": "cnn", "conv_filters": [32]}) == "network cnn, filters 32"


def test_one_network_address_starts_at_most_ten_open_classes(stores):
    from core.classes.store import MAX_OPEN_CLASSES_PER_ADDRESS

    _, classes = stores
    started = [
        classes.create(f"Class {n}", Challenge(), address="203.0.113.5").info
        for n in range(MAX_OPEN_CLASSES_PER_ADDRESS)
    ]
    with pytest.raises(ClassError, match="already has 10 open classes"):
        classes.create("One more", Challenge(), address="203.0.113.5")
    classes.create("Another school", Challenge(), address="198.51.100.1")
    classes.create("Localhost", Challenge())  # No address: no cap per address.
    classes.end(started[0].id)  # An ended class frees its place.
    classes.create("One more", Challenge(), address="203.0.113.5")
