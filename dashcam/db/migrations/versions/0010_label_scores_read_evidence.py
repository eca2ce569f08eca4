"""a sighting keeps its class shares over the track; a plate read keeps its evidence (size, sharpness, confidence)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 21:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


# Plain ADD / DROP COLUMN (SQLite >= 3.35 has both): a batch operation would copy the sighting table and
# lose its expression index ix_sighting_lat_band (0003), which batch mode cannot reflect.


def upgrade() -> None:
    op.add_column("sighting", sa.Column("label_scores", sa.JSON(), nullable=True))
    op.add_column("plate_read", sa.Column("evidence", sa.Float(), nullable=True))


def downgrade() -> None:
    op.drop_column("plate_read", "evidence")
    op.drop_column("sighting", "label_scores")
