"""A class's challenge: a rule the app checks on each stored run, and the leaderboard it makes.

Every challenge ranks networks by what the server measured when the run ended: its accuracy
on the test images (images its training never saw: the official 10,000, or the held-out part
its split names), its parameter count and its training time. One entry per student: their
best run under the rule. Equal scores share a rank (1, 2, 2, 4) and are listed in the order
they were reached. A stopped run counts with what it learned until Stop (its test accuracy
is measured like any other) and says "stopped"; an interrupted run has no test score and
does not count.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import Any

# Kinds of challenge: what is scored, and which limit a run must keep.
BEST_ACCURACY = "best_accuracy"
ACCURACY_WITHIN_PARAMETERS = "accuracy_within_parameters"
FEWEST_PARAMETERS = "fewest_parameters"
ACCURACY_WITHIN_SECONDS = "accuracy_within_seconds"
KINDS = (BEST_ACCURACY, ACCURACY_WITHIN_PARAMETERS, FEWEST_PARAMETERS, ACCURACY_WITHIN_SECONDS)
LIMITS = {
    ACCURACY_WITHIN_PARAMETERS: (1_000, 50_000_000),  # parameters
    FEWEST_PARAMETERS: (0.10, 0.999),  # test accuracy to reach
    ACCURACY_WITHIN_SECONDS: (1.0, 3_600.0),  # seconds of training
}
SCORED_STATUSES = ("finished", "stopped")


@dataclass(frozen=True)
class Challenge:
    """What a class competes on.

    Attributes:
        kind: One of `KINDS`.
        limit: The rule's number: most parameters, accuracy to reach (0-1) or most seconds
            of training; None for `BEST_ACCURACY`.
    """

    kind: str = BEST_ACCURACY
    limit: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Unknown challenge {self.kind!r}; pick one of {', '.join(KINDS)}.")
        if self.kind == BEST_ACCURACY:
            if self.limit is not None:
                raise ValueError("The best-accuracy challenge has no limit.")
            return
        lowest, highest = LIMITS[self.kind]
        if self.limit is None or not math.isfinite(self.limit):
            raise ValueError("This challenge needs a limit.")
        if not lowest <= self.limit <= highest:
            raise ValueError(
                f"The limit must be from {lowest:,} to {highest:,}; got {self.limit:,}."
            )

    def describe(self) -> str:
        """The rule in one sentence, e.g. "Highest test accuracy with at most 50,000 parameters"."""
        if self.kind == ACCURACY_WITHIN_PARAMETERS:
            return f"Highest test accuracy with at most {int(self.limit or 0):,} parameters"
        if self.kind == FEWEST_PARAMETERS:
            return f"Fewest parameters that reach {100 * (self.limit or 0):.1f}% test accuracy"
        if self.kind == ACCURACY_WITHIN_SECONDS:
            return f"Highest test accuracy in at most {self.limit or 0:g} s of training"
        return "Highest test accuracy"

    def before_training(self, parameters: int) -> str:
        """What the Train page says of a network with ``parameters`` under this rule."""
        if self.kind == ACCURACY_WITHIN_PARAMETERS:
            if parameters > (self.limit or 0):
                return (
                    f"This network has {parameters:,} parameters, over the class's "
                    f"{int(self.limit or 0):,}: its run will not count. Try smaller layers."
                )
            return f"This network has {parameters:,} parameters: within the rule."
        if self.kind == FEWEST_PARAMETERS:
            return (
                f"This network has {parameters:,} parameters; it counts if it reaches "
                f"{100 * (self.limit or 0):.1f}% on the test images."
            )
        if self.kind == ACCURACY_WITHIN_SECONDS:
            return f"Its run counts if training takes at most {self.limit or 0:g} s."
        return "Every run counts; the best test accuracy wins."

    def score_label(self) -> str:
        """What the leaderboard's score column holds."""
        return "Parameters" if self.kind == FEWEST_PARAMETERS else "Test accuracy"

    def keeps(self, entry: Entry) -> str | None:
        """Return why ``entry`` does not count, or None when it does."""
        if entry.status not in SCORED_STATUSES or entry.test_accuracy is None:
            return "no test score (interrupted)"
        if self.kind == ACCURACY_WITHIN_PARAMETERS and (entry.parameters or 0) > (self.limit or 0):
            return f"{entry.parameters:,} parameters, over {int(self.limit or 0):,}"
        if self.kind == FEWEST_PARAMETERS and entry.test_accuracy < (self.limit or 0):
            return f"{100 * entry.test_accuracy:.2f}%, under {100 * (self.limit or 0):.1f}%"
        if self.kind == ACCURACY_WITHIN_SECONDS and (
            entry.train_seconds is None or entry.train_seconds > (self.limit or 0)
        ):
            return f"{entry.train_seconds or 0:.1f} s of training, over {self.limit or 0:g} s"
        return None

    def sort_key(self, entry: Entry) -> tuple:
        """Better entries first: by score, then (ties) the earlier reached."""
        if self.kind == FEWEST_PARAMETERS:
            return (entry.parameters or 0, -(entry.test_accuracy or 0), entry.created)
        return (-(entry.test_accuracy or 0), entry.created)

    def score(self, entry: Entry) -> float:
        """The entry's score in the leaderboard's units (an accuracy, or parameters)."""
        if self.kind == FEWEST_PARAMETERS:
            return float(entry.parameters or 0)
        return float(entry.test_accuracy or 0)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Challenge:
        values = json.loads(text)
        return cls(kind=str(values.get("kind")), limit=values.get("limit"))


@dataclass(frozen=True)
class Entry:
    """One student's stored run, as the leaderboard reads it."""

    run_id: str
    student: str
    created: str
    status: str
    test_accuracy: float | None
    parameters: int | None
    train_seconds: float | None
    summary: str
    config: dict[str, Any]


@dataclass(frozen=True)
class Ranked:
    """A leaderboard row: the rank (shared by equal scores), the score and the entry."""

    rank: int
    score: float
    entry: Entry


def leaderboard(challenge: Challenge, entries: list[Entry]) -> list[Ranked]:
    """Rank each student's best counting run; equal scores share a rank (1, 2, 2, 4).

    Args:
        challenge: The class's rule.
        entries: Every stored run of the class's students (any order).
    """
    best: dict[str, Entry] = {}
    for entry in entries:
        if challenge.keeps(entry) is not None:
            continue
        held = best.get(entry.student)
        if held is None or challenge.sort_key(entry) < challenge.sort_key(held):
            best[entry.student] = entry
    ordered = sorted(best.values(), key=challenge.sort_key)
    rows: list[Ranked] = []
    for position, entry in enumerate(ordered, start=1):
        score = challenge.score(entry)
        same = rows and rows[-1].score == score
        rows.append(Ranked(rows[-1].rank if same else position, score, entry))
    return rows


def shared_settings(entries: list[Entry], fields: tuple[str, ...]) -> dict[str, Any]:
    """The configuration values every one of ``entries`` has in common (of ``fields``)."""
    if not entries:
        return {}
    first = entries[0].config
    return {
        field: first.get(field)
        for field in fields
        if field in first and all(entry.config.get(field) == first.get(field) for entry in entries)
    }
