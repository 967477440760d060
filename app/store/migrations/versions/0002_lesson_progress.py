"""The lesson_progress table: each anonymous learner's work on each lesson.

Revision ID: 0002_lesson_progress
Revises: 0001_shares
Create Date: 2026-11-27
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_lesson_progress"
down_revision: str | Sequence[str] | None = "0001_shares"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lesson_progress",
        sa.Column("learner", sa.String(22), primary_key=True),
        sa.Column("lesson", sa.String(64), primary_key=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("passed_at", sa.DateTime(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("lesson_progress")
