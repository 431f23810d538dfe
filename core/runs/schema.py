"""The run store's tables, as SQLAlchemy Core tables: one schema for SQLite and PostgreSQL.

The schema itself is made and upgraded by Alembic (`core.runs.migrations`); these tables
are what the queries are written against, and a test checks they match what the migrations
create. Times are ISO 8601 strings in UTC (``created``, ``started``) where the pages show
them, and seconds since the epoch (``heartbeat``, ``updated``) where only code compares them.

- ``runs``: one record per stored run (`core.runs.database`).
- ``saves``: the log of recent saves per network address (for the caps per address).
- ``store_secrets``: the store's random key that hashes network addresses.
- ``model_blobs``: model files kept in the database, in chunks (`core.runs.model_blobs`).
- ``current_models``: each visitor's current model (`core.runs.current_models`).
- ``processes``: every app process using the store, with its heartbeat
  (`core.runs.heartbeats`).
- ``runs_in_progress``: a run being trained, by which process (`core.runs.in_progress`).
- ``jobs``: every process's jobs, their state and progress (`core.jobs.board`).
- ``classes``, ``class_students``, ``class_marks``: a teacher's classes, their students
  and the entries the teacher removed or shared with the class (`core.classes`).
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String, primary_key=True),
    sa.Column("created", sa.String, nullable=False),
    sa.Column("name", sa.String, nullable=False),
    sa.Column("kind", sa.String, nullable=False),
    sa.Column("status", sa.String, nullable=False),
    sa.Column("owner", sa.String),
    sa.Column("dataset", sa.String),
    sa.Column("summary", sa.String),
    sa.Column("parameters", sa.BigInteger),
    sa.Column("epochs", sa.Integer),
    sa.Column("train_seconds", sa.Float),
    sa.Column("predict_seconds", sa.Float),
    sa.Column("test_accuracy", sa.Float),
    sa.Column("test_loss", sa.Float),
    sa.Column("model_file", sa.String),
    sa.Column("model_size", sa.BigInteger),
    sa.Column("model_sha256", sa.String),
    sa.Column("config_json", sa.Text, nullable=False),
    sa.Column("history_json", sa.Text, nullable=False),
    sa.Column("metrics_json", sa.Text, nullable=False),
    sa.Column("timings_json", sa.Text, nullable=False),
    sa.Column("confusion_json", sa.Text),
    sa.Column("address", sa.String),
    sa.Column("owner_number", sa.Integer),
    # Added by revision 0003: the run's number across the store (SQLite's rowid before) and
    # its configuration's split and seed (read for every listed run, so not parsed from JSON).
    sa.Column("seq", sa.BigInteger),
    sa.Column("split", sa.String),
    sa.Column("seed", sa.BigInteger),
)

saves = sa.Table(
    "saves",
    metadata,
    sa.Column("address", sa.String),
    sa.Column("owner", sa.String),
    sa.Column("created", sa.String, nullable=False),
)

store_secrets = sa.Table(
    "store_secrets",
    metadata,
    sa.Column("name", sa.String, primary_key=True),
    sa.Column("value", sa.String, nullable=False),
)

model_blobs = sa.Table(
    "model_blobs",
    metadata,
    sa.Column("file_name", sa.String, primary_key=True),
    sa.Column("chunk", sa.Integer, primary_key=True),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
)

current_models = sa.Table(
    "current_models",
    metadata,
    sa.Column("visitor", sa.String, primary_key=True),
    sa.Column("run_id", sa.String, nullable=False),
    sa.Column("label", sa.String, nullable=False),
    sa.Column("updated", sa.Float, nullable=False),
)

processes = sa.Table(
    "processes",
    metadata,
    sa.Column("id", sa.String, primary_key=True),
    sa.Column("host", sa.String, nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("started", sa.Float, nullable=False),
    sa.Column("heartbeat", sa.Float, nullable=False),
)

runs_in_progress = sa.Table(
    "runs_in_progress",
    metadata,
    sa.Column("id", sa.String, primary_key=True),
    sa.Column("process", sa.String, nullable=False),
    sa.Column("kind", sa.String, nullable=False),
    sa.Column("name", sa.String, nullable=False),
    sa.Column("config_json", sa.Text, nullable=False),
    sa.Column("owner", sa.String),
    sa.Column("dataset", sa.String),
    sa.Column("started", sa.String, nullable=False),
)

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.String, primary_key=True),
    sa.Column("process", sa.String, nullable=False),
    sa.Column("owner", sa.String),
    sa.Column("address", sa.String),
    sa.Column("kind", sa.String, nullable=False),
    sa.Column("name", sa.String, nullable=False),
    sa.Column("state", sa.String, nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("updated", sa.Float, nullable=False),
    sa.Column("progress_json", sa.Text, nullable=False, server_default="{}"),
    sa.Column("message", sa.Text),
    sa.Column("stop_requested", sa.Boolean, nullable=False, server_default=sa.false()),
)

# Added by revision 0004: classes (`core.classes`). A student is a visitor (the ``owner`` of
# their runs) with a name in one class; a run belongs to the class when its owner is one of
# its students and it was saved while they were in it.
classes = sa.Table(
    "classes",
    metadata,
    sa.Column("id", sa.String, primary_key=True),
    sa.Column("code", sa.String, nullable=False),
    sa.Column("secret_sha256", sa.String, nullable=False),
    sa.Column("title", sa.String, nullable=False),
    sa.Column("challenge_json", sa.Text, nullable=False),
    sa.Column("config_json", sa.Text),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("ends", sa.Float),
    sa.Column("ended", sa.Float),
    sa.Column("creator", sa.String),
)

class_students = sa.Table(
    "class_students",
    metadata,
    sa.Column("class_id", sa.String, primary_key=True),
    sa.Column("owner", sa.String, primary_key=True),
    sa.Column("name", sa.String, nullable=False),
    sa.Column("name_key", sa.String, nullable=False),
    sa.Column("joined", sa.Float, nullable=False),
    sa.Column("removed", sa.Boolean, nullable=False, server_default=sa.false()),
)

class_marks = sa.Table(
    "class_marks",
    metadata,
    sa.Column("class_id", sa.String, primary_key=True),
    sa.Column("run_id", sa.String, primary_key=True),
    sa.Column("mark", sa.String, nullable=False),
)

# Index names, for the migrations and the test that compares them with these tables.
sa.Index("runs_owner", runs.c.owner)
sa.Index("runs_address", runs.c.address)
sa.Index("runs_seq", runs.c.seq)
sa.Index("saves_created", saves.c.created)
sa.Index("current_models_updated", current_models.c.updated)
sa.Index("jobs_state", jobs.c.state)
sa.Index("jobs_owner", jobs.c.owner)
sa.Index("class_students_owner", class_students.c.owner)
sa.Index("classes_code", classes.c.code, unique=True)
sa.Index("classes_secret", classes.c.secret_sha256, unique=True)
sa.Index("class_students_name", class_students.c.class_id, class_students.c.name_key, unique=True)
