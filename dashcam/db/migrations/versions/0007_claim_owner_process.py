"""stage run claims record their owner process, so a dead owner's claim on its own machine is free at once

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 20:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stage_run", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("owner_process", sqlmodel.sql.sqltypes.AutoString(length=160), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("stage_run", schema=None) as batch_op:
        batch_op.drop_column("owner_process")
