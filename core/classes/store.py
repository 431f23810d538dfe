"""Classes in the run store's database: create one, join it by code, end it, rank its runs.

`ClassStore` keeps classes next to the runs (`core.runs.schema`: ``classes``,
``class_students``, ``class_marks``), so a class works on SQLite for `make run` and on
the PostgreSQL every app process of `make class` shares. A student is a visitor id (the owner
of their runs, from the browser's cookie) with a name in one class; their runs belong to the
class when saved between their joining and the class's end. A visitor is in one class at a
time: joining another leaves the first (its runs stay in the first class's results).

What a visitor can do is checked here, whatever the page shows: a class is found by its code
(students) or by its teacher's secret (teachers), never by its id; a name already taken in
the class is refused; an ended class takes no one, and its runs after the end do not count.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from core.classes.challenges import Challenge, Entry
from core.classes.codes import (
    new_class_code,
    new_teacher_secret,
    normalise_code,
    same_digest,
    secret_digest,
)
from core.classes.names import checked_name, checked_title, name_key
from core.jobs.job_rows import ACTIVE_VALUES
from core.runs.database import RunRecords
from core.runs.engine import Database
from core.runs.schema import class_marks, class_students, classes, jobs, runs

# The longest a class may last (a teacher can end it sooner), and how many students it takes.
MAX_CLASS_HOURS = 24 * 14
MAX_STUDENTS = 200
# Classes one database keeps open at once (each a code that can be guessed; see `codes`), and
# of those, how many one network address may have started (a script cannot take them all).
MAX_OPEN_CLASSES = 10_000
MAX_OPEN_CLASSES_PER_ADDRESS = 10
# Runs a class's results read per student (the newest); the demo keeps fewer anyway.
MAX_RUNS_PER_STUDENT = 200
# Marks a teacher puts on a class's runs.
HIDDEN = "hidden"
SHARED = "shared"
# Whose default data set a class ranks (runs on a visitor's own files are not comparable).
RANKED_DATASET = "MNIST"


class ClassError(ValueError):
    """A class action that cannot be done: the message says why, in words for the page."""


@dataclass(frozen=True)
class ClassInfo:
    """A class as the pages see it (never its secret)."""

    id: str
    code: str
    title: str
    challenge: Challenge
    config: dict[str, Any] | None
    created: float
    ends: float | None
    ended: float | None

    def is_open(self, now: float | None = None) -> bool:
        """True until the teacher ends it or its end time passes."""
        now = time.time() if now is None else now
        return self.ended is None and (self.ends is None or now < self.ends)

    def closed_at(self) -> float | None:
        """When it stopped counting runs: the teacher's end, or its end time (None: open)."""
        if self.ended is not None:
            return self.ended
        if self.ends is not None and time.time() >= self.ends:
            return self.ends
        return None


@dataclass(frozen=True)
class Student:
    """One student of a class."""

    owner: str
    name: str
    joined: float
    removed: bool


@dataclass(frozen=True)
class NewClass:
    """What creating a class returns: the class and the teacher's secret (shown once)."""

    info: ClassInfo
    secret: str


def _info(row: Any) -> ClassInfo:
    return ClassInfo(
        id=row.id, code=row.code, title=row.title,
        challenge=Challenge.from_json(row.challenge_json),
        config=json.loads(row.config_json) if row.config_json else None,
        created=row.created, ends=row.ends, ended=row.ended,
    )  # fmt: skip


def _epoch(created: str) -> float:
    return datetime.fromisoformat(created).timestamp()


class ClassStore:
    """A teacher's classes and their students, in the run store's database.

    Args:
        database: The run store's `Database` (its schema already upgraded).
    """

    def __init__(self, database: Database) -> None:
        self.database = database
        self._records = RunRecords(database)  # Hashes a creator's address as runs' are.

    # --- Teachers ---------------------------------------------------------------------

    def create(
        self,
        title: str,
        challenge: Challenge,
        config: dict[str, Any] | None = None,
        hours: float | None = None,
        address: str | None = None,
    ) -> NewClass:
        """Create a class; return it with the teacher's secret (stored only as a digest).

        Args:
            title: Shown to students (`checked_title`).
            challenge: What the leaderboard ranks.
            config: The starting configuration students land on (a `TrainingConfig` dict).
            hours: When the class ends by itself (at most `MAX_CLASS_HOURS`); None for the
                longest.
            address: The creator's network address (`ui.visitor_address`), kept as a keyed
                hash; None (localhost) for no cap per address.

        Raises:
            ClassError: A bad title or duration, or too many open classes (on the server,
                or started from this address).
        """
        try:
            title = checked_title(title)
        except ValueError as error:
            raise ClassError(str(error)) from error
        hours = MAX_CLASS_HOURS if hours is None else float(hours)
        if not 0 < hours <= MAX_CLASS_HOURS:
            raise ClassError(f"A class lasts from a few minutes to {MAX_CLASS_HOURS} hours.")
        now = time.time()
        with self.database.transaction(exclusive=True) as connection:
            open_count = connection.execute(
                sa.select(sa.func.count())
                .select_from(classes)
                .where(
                    classes.c.ended.is_(None),
                    sa.or_(classes.c.ends.is_(None), classes.c.ends > now),
                )
            ).scalar_one()
            if open_count >= MAX_OPEN_CLASSES:
                raise ClassError("This server has as many open classes as it takes; try later.")
            creator = self._records.address_key(address)
            if creator is not None:
                mine = connection.execute(
                    sa.select(sa.func.count())
                    .select_from(classes)
                    .where(
                        classes.c.creator == creator,
                        classes.c.ended.is_(None),
                        sa.or_(classes.c.ends.is_(None), classes.c.ends > now),
                    )  # fmt: skip
                ).scalar_one()
                if mine >= MAX_OPEN_CLASSES_PER_ADDRESS:
                    raise ClassError(
                        f"Your network already has {MAX_OPEN_CLASSES_PER_ADDRESS} open classes: "
                        "end one (on its teacher link) before starting another."
                    )
            for _ in range(8):  # A code already in use (rare: see `codes`) draws another.
                code, secret = new_class_code(), new_teacher_secret()
                taken = connection.execute(
                    sa.select(classes.c.id).where(classes.c.code == code)
                ).first()
                if taken is None:
                    break
            else:
                raise ClassError("No free class code was found; try again.")
            class_id = uuid.uuid4().hex
            values = {
                "id": class_id, "code": code, "secret_sha256": secret_digest(secret),
                "title": title, "challenge_json": challenge.to_json(),
                "config_json": json.dumps(config) if config is not None else None,
                "created": now, "ends": now + hours * 3600, "ended": None, "creator": creator,
            }  # fmt: skip
            connection.execute(classes.insert().values(**values))
        return NewClass(self._get(class_id), secret)

    def for_teacher(self, secret: object) -> ClassInfo | None:
        """Return the class whose teacher holds ``secret``, or None (ended classes too)."""
        if not isinstance(secret, str) or not 20 <= len(secret) <= 100:
            return None
        digest = secret_digest(secret)
        with self.database.transaction() as connection:
            row = connection.execute(
                sa.select(classes).where(classes.c.secret_sha256 == digest)
            ).first()
        if row is None or not same_digest(row.secret_sha256, digest):
            return None
        return _info(row)

    def end(self, class_id: str) -> None:
        """End a class now: it takes no one new and counts no later run."""
        with self.database.transaction() as connection:
            connection.execute(
                classes.update()
                .where(classes.c.id == class_id, classes.c.ended.is_(None))
                .values(ended=time.time())
            )

    def remove_student(self, class_id: str, owner: str) -> None:
        """Take a student out of the class: off the leaderboard, and they cannot come back."""
        with self.database.transaction() as connection:
            connection.execute(
                class_students.update()
                .where(class_students.c.class_id == class_id, class_students.c.owner == owner)
                .values(removed=True)
            )

    def hide_run(self, class_id: str, run_id: str) -> None:
        """Remove one entry from the class's results (the run itself stays its student's)."""
        self._mark(class_id, run_id, HIDDEN)

    def share_run(self, class_id: str, run_id: str, shared: bool = True) -> None:
        """Show one entry's curves and confusion matrix to every student (or stop)."""
        if shared:
            self._mark(class_id, run_id, SHARED)
            return
        with self.database.transaction() as connection:
            connection.execute(
                class_marks.delete().where(
                    class_marks.c.class_id == class_id,
                    class_marks.c.run_id == run_id,
                    class_marks.c.mark == SHARED,
                )
            )

    def _mark(self, class_id: str, run_id: str, mark: str) -> None:
        """Mark a run of the class; a removed entry is never shared (the later mark wins)."""
        with self.database.transaction(exclusive=True) as connection:
            where = (class_marks.c.class_id == class_id, class_marks.c.run_id == run_id)
            connection.execute(class_marks.delete().where(*where))
            connection.execute(
                class_marks.insert().values(class_id=class_id, run_id=run_id, mark=mark)
            )

    def marks(self, class_id: str) -> dict[str, str]:
        """The class's marked runs: run id -> `HIDDEN` or `SHARED`."""
        with self.database.transaction() as connection:
            rows = connection.execute(
                sa.select(class_marks.c.run_id, class_marks.c.mark).where(
                    class_marks.c.class_id == class_id
                )
            ).all()
        return {row.run_id: row.mark for row in rows}

    # --- Students ---------------------------------------------------------------------

    def for_code(self, code: object) -> ClassInfo | None:
        """Return the class with this code (as a person typed it), or None."""
        normalised = normalise_code(code)
        if normalised is None:
            return None
        with self.database.transaction() as connection:
            row = connection.execute(sa.select(classes).where(classes.c.code == normalised)).first()
        return None if row is None else _info(row)

    def join(self, info: ClassInfo, owner: str, name: object) -> Student:
        """Put ``owner`` in the class under ``name``, or rename them if they are in it.

        Raises:
            ClassError: The class has ended, is full, the name is taken or not a name, or
                the teacher removed this student.
        """
        try:
            name = checked_name(name)
        except ValueError as error:
            raise ClassError(str(error)) from error
        key = name_key(name)
        now = time.time()
        with self.database.transaction(exclusive=True) as connection:
            row = connection.execute(sa.select(classes).where(classes.c.id == info.id)).first()
            if row is None or not _info(row).is_open(now):
                raise ClassError("This class has ended: ask your teacher for a new code.")
            mine = connection.execute(
                sa.select(class_students).where(
                    class_students.c.class_id == info.id, class_students.c.owner == owner
                )
            ).first()
            if mine is not None and mine.removed:
                raise ClassError("Your teacher took you out of this class.")
            holder = connection.execute(
                sa.select(class_students.c.owner).where(
                    class_students.c.class_id == info.id, class_students.c.name_key == key
                )
            ).first()
            if holder is not None and holder.owner != owner:
                raise ClassError(
                    f"Someone in this class is already called {name!r}: pick another name."
                )
            if mine is not None:
                connection.execute(
                    class_students.update()
                    .where(class_students.c.class_id == info.id, class_students.c.owner == owner)
                    .values(name=name, name_key=key)
                )
                return Student(owner, name, mine.joined, False)
            count = connection.execute(
                sa.select(sa.func.count())
                .select_from(class_students)
                .where(class_students.c.class_id == info.id)
            ).scalar_one()
            if count >= MAX_STUDENTS:
                raise ClassError(f"This class is full ({MAX_STUDENTS} students).")
            try:
                connection.execute(
                    class_students.insert().values(
                        class_id=info.id,
                        owner=owner,
                        name=name,
                        name_key=key,
                        joined=now,
                        removed=False,
                    )  # fmt: skip
                )
            except IntegrityError as error:  # Another process took the name meanwhile.
                raise ClassError(f"Someone in this class is already called {name!r}.") from error
        return Student(owner, name, now, False)

    def membership(self, owner: str) -> tuple[ClassInfo, Student] | None:
        """Return the class ``owner`` joined last and their place in it, or None.

        A removed student, or one whose class ended, still gets it (the page says so).
        """
        with self.database.transaction() as connection:
            row = connection.execute(
                sa.select(class_students, classes)
                .join(classes, classes.c.id == class_students.c.class_id)
                .where(class_students.c.owner == owner)
                .order_by(class_students.c.joined.desc())
                .limit(1)
            ).first()
        if row is None:
            return None
        student = Student(row.owner, row.name, row.joined, row.removed)
        return _info(row), student

    def leave(self, owner: str) -> None:
        """Take ``owner`` out of every class they are in (their runs stay theirs)."""
        with self.database.transaction() as connection:
            connection.execute(class_students.delete().where(class_students.c.owner == owner))

    # --- Results ----------------------------------------------------------------------

    def students(self, class_id: str) -> list[Student]:
        """The class's students, in the order they joined (removed ones too)."""
        with self.database.transaction() as connection:
            rows = connection.execute(
                sa.select(class_students)
                .where(class_students.c.class_id == class_id)
                .order_by(class_students.c.joined)
            ).all()
        return [Student(row.owner, row.name, row.joined, row.removed) for row in rows]

    def entries(self, info: ClassInfo, dataset: str = RANKED_DATASET) -> list[Entry]:
        """Every network run of the class's students that counts for it, newest first.

        A run counts when its student is in the class (not removed), it was saved after
        they joined and before the class ended, it trained on ``dataset`` (the server's
        default data set: runs on a visitor's own files are not comparable), and the teacher
        did not remove it.
        """
        closed = info.closed_at()
        with self.database.transaction() as connection:
            hidden = set(
                connection.execute(
                    sa.select(class_marks.c.run_id).where(
                        class_marks.c.class_id == info.id, class_marks.c.mark == HIDDEN
                    )
                ).scalars()
            )
            rows = connection.execute(
                sa.select(
                    runs.c.id,
                    runs.c.created,
                    runs.c.status,
                    runs.c.test_accuracy,
                    runs.c.parameters,
                    runs.c.train_seconds,
                    runs.c.summary,
                    runs.c.config_json,
                    class_students.c.name,
                    class_students.c.joined,
                )  # fmt: skip
                .join(class_students, class_students.c.owner == runs.c.owner)
                .where(
                    class_students.c.class_id == info.id,
                    class_students.c.removed.is_(False),
                    runs.c.kind == "network",
                    runs.c.dataset == dataset,
                )
                .order_by(runs.c.created.desc())
                .limit(MAX_RUNS_PER_STUDENT * MAX_STUDENTS)
            ).all()
        entries = []
        for row in rows:
            saved = _epoch(row.created)
            if (
                row.id in hidden
                or saved < row.joined - 1
                or (closed is not None and saved > closed)
            ):
                continue
            entries.append(
                Entry(
                    run_id=row.id,
                    student=row.name,
                    created=row.created,
                    status=row.status,
                    test_accuracy=row.test_accuracy,
                    parameters=row.parameters,
                    train_seconds=row.train_seconds,
                    summary=row.summary or "",
                    config=json.loads(row.config_json or "{}"),
                )  # fmt: skip
            )
        return entries

    def training_now(self, info: ClassInfo) -> dict[str, str]:
        """Which students have a job queued or running now, in any app process: name -> state."""
        with self.database.transaction() as connection:
            rows = connection.execute(
                sa.select(class_students.c.name, jobs.c.state)
                .join(jobs, jobs.c.owner == class_students.c.owner)
                .where(
                    class_students.c.class_id == info.id,
                    class_students.c.removed.is_(False),
                    jobs.c.state.in_(ACTIVE_VALUES),
                )
            ).all()
        now: dict[str, str] = {}
        for row in rows:  # "running" wins over "queued" for a student with both.
            if now.get(row.name) != "running":
                now[row.name] = row.state
        return now

    def _get(self, class_id: str) -> ClassInfo:
        with self.database.transaction() as connection:
            row = connection.execute(sa.select(classes).where(classes.c.id == class_id)).one()
        return _info(row)
