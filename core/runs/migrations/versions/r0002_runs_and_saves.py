"""Schema 2, the last one before Alembic: runs, the saves log and the store's secret.

A SQLite store written by MNIST Studio before Alembic (``PRAGMA user_version`` 1 or 2) is
brought to this schema by `core.runs.schema_upgrade` and stamped with this revision; a new
database starts here.

Revision ID: 0002
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runs",
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
    )
    op.create_index("runs_owner", "runs", ["owner"])
    op.create_index("runs_address", "runs", ["address"])
    op.create_table(
        "saves",
        sa.Column("address", sa.String),
        sa.Column("owner", sa.String),
        sa.Column("created", sa.String, nullable=False),
    )
    op.create_index("saves_created", "saves", ["created"])
    op.create_table(
        "store_secrets",
        sa.Column("name", sa.String, primary_key=True),
        sa.Column("value", sa.String, nullable=False),
    )
