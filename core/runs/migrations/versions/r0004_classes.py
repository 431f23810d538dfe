"""Classes: a teacher's classes, their students by name, and entries the teacher removed or
shared.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "classes",
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
    op.create_table(
        "class_students",
        sa.Column("class_id", sa.String, primary_key=True),
        sa.Column("owner", sa.String, primary_key=True),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("name_key", sa.String, nullable=False),
        sa.Column("joined", sa.Float, nullable=False),
        sa.Column("removed", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_index("classes_code", "classes", ["code"], unique=True)
    op.create_index("classes_secret", "classes", ["secret_sha256"], unique=True)
    op.create_index("class_students_owner", "class_students", ["owner"])
    op.create_index("class_students_name", "class_students", ["class_id", "name_key"], unique=True)
    op.create_table(
        "class_marks",
        sa.Column("class_id", sa.String, primary_key=True),
        sa.Column("run_id", sa.String, primary_key=True),
        sa.Column("mark", sa.String, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("class_marks")
    op.drop_index("class_students_name", table_name="class_students")
    op.drop_index("class_students_owner", table_name="class_students")
    op.drop_index("classes_secret", table_name="classes")
    op.drop_index("classes_code", table_name="classes")
    op.drop_table("class_students")
    op.drop_table("classes")
