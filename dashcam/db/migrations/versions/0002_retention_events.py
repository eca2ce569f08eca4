"""retention events: what retention deleted (or failed to delete), per file

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 02:21:11.666615
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "retention_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("clip_id", sa.Integer(), nullable=True),
        sa.Column("area", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=512), nullable=False),
        sa.Column("what", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.ForeignKeyConstraint(["clip_id"], ["clip.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("retention_event", schema=None) as batch_op:
        batch_op.create_index("ix_retention_event_area_at", ["area", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_retention_event_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_retention_event_clip_id"), ["clip_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("retention_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_retention_event_clip_id"))
        batch_op.drop_index(batch_op.f("ix_retention_event_at"))
        batch_op.drop_index("ix_retention_event_area_at")

    op.drop_table("retention_event")
