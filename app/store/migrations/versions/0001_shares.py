"""The shares table: content-addressed, immutable playground setups.

Revision ID: 0001_shares
Revises:
Create Date: 2026-11-27
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_shares"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "shares",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("setup", sa.Text(), nullable=False),
        sa.Column("parent", sa.String(16), sa.ForeignKey("shares.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_shares_parent", "shares", ["parent"])


def downgrade() -> None:
    op.drop_index("ix_shares_parent", table_name="shares")
    op.drop_table("shares")
