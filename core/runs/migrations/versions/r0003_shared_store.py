"""The shared store: run numbers, splits and seeds as columns; model files, current models,
processes, runs in progress and jobs in the database.

Existing runs keep their numbers (SQLite's rowid becomes ``seq``) and get their
configuration's split and seed; nothing is dropped.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from core.runs.records import split_and_seed

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("seq", sa.BigInteger))
        batch.add_column(sa.Column("split", sa.String))
        batch.add_column(sa.Column("seed", sa.BigInteger))
    _number_and_describe_existing_runs()
    # Each save reads max(seq): without an index, a save at 10,000 runs scans them all.
    op.create_index("runs_seq", "runs", ["seq"])
    op.create_table(
        "model_blobs",
        sa.Column("file_name", sa.String, primary_key=True),
        sa.Column("chunk", sa.Integer, primary_key=True),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("created", sa.Float, nullable=False),
    )
    op.create_table(
        "current_models",
        sa.Column("visitor", sa.String, primary_key=True),
        sa.Column("run_id", sa.String, nullable=False),
        sa.Column("label", sa.String, nullable=False),
        sa.Column("updated", sa.Float, nullable=False),
    )
    op.create_index("current_models_updated", "current_models", ["updated"])
    op.create_table(
        "processes",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("host", sa.String, nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started", sa.Float, nullable=False),
        sa.Column("heartbeat", sa.Float, nullable=False),
    )
    op.create_table(
        "runs_in_progress",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("process", sa.String, nullable=False),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("config_json", sa.Text, nullable=False),
        sa.Column("owner", sa.String),
        sa.Column("dataset", sa.String),
        sa.Column("started", sa.String, nullable=False),
    )
    op.create_table(
        "jobs",
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
    op.create_index("jobs_state", "jobs", ["state"])
    op.create_index("jobs_owner", "jobs", ["owner"])


def _number_and_describe_existing_runs() -> None:
    """Give each existing run its number (its order of saving) and its split and seed."""
    connection = op.get_bind()
    runs = sa.table(
        "runs",
        sa.column("id"), sa.column("created"), sa.column("config_json"),
        sa.column("seq"), sa.column("split"), sa.column("seed"),
    )  # fmt: skip
    rows: list[tuple[str, str, int]]
    if connection.dialect.name == "sqlite":
        # A run's number was its rowid: deleted runs leave gaps, which the numbers keep.
        query = sa.select(runs.c.id, runs.c.config_json, sa.literal_column("rowid"))
        rows = [tuple(row) for row in connection.execute(query.order_by(sa.text("rowid")))]
    else:
        query = sa.select(runs.c.id, runs.c.config_json).order_by(runs.c.created, runs.c.id)
        rows = [(*row, number) for number, row in enumerate(connection.execute(query), 1)]
    for run_id, config_json, number in rows:
        split, seed = split_and_seed(config_json)
        connection.execute(
            runs.update().where(runs.c.id == run_id).values(seq=number, split=split, seed=seed)
        )
