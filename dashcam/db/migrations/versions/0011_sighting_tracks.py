"""sightings record the tracks joined into them, their colour signature and the sighting of the same vehicle
in the previous file of the drive

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 09:00:00

The columns are added in place (SQLite's ALTER TABLE ADD COLUMN): a batch copy of the table would lose the
expression index ix_sighting_lat_band and the WHERE of ix_sighting_plate_corrected, which SQLite's
reflection cannot read back. Dropping continues_id needs the copy on SQLite (a column in a foreign key
cannot be dropped in place); the two indexes are made again after it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

FK = "fk_sighting_continues_id_sighting"


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.add_column("sighting", sa.Column("merged_from", sa.Integer(), server_default="1", nullable=False))
    op.add_column("sighting", sa.Column("parts", sa.JSON(), nullable=True))
    op.add_column("sighting", sa.Column("signature", sa.JSON(), nullable=True))
    if sqlite:
        # SQLite takes the reference with the new column (it cannot add a constraint to a table)
        op.execute(
            "ALTER TABLE sighting ADD COLUMN continues_id INTEGER "
            f"CONSTRAINT {FK} REFERENCES sighting (id) ON DELETE SET NULL"
        )
    else:
        op.add_column("sighting", sa.Column("continues_id", sa.Integer(), nullable=True))
        op.create_foreign_key(FK, "sighting", "sighting", ["continues_id"], ["id"], ondelete="SET NULL")
    op.create_index("ix_sighting_continues_id", "sighting", ["continues_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_sighting_continues_id", table_name="sighting")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(FK, "sighting", type_="foreignkey")
        for name in ("continues_id", "signature", "parts", "merged_from"):
            op.drop_column("sighting", name)
        return
    with op.batch_alter_table("sighting", schema=None) as batch_op:
        for name in ("continues_id", "signature", "parts", "merged_from"):
            batch_op.drop_column(name)
    # the copy lost what SQLite cannot reflect: make the two indexes as 0003 made them
    op.execute("DROP INDEX IF EXISTS ix_sighting_lat_band")
    op.execute("DROP INDEX IF EXISTS ix_sighting_plate_corrected")
    op.create_index(
        "ix_sighting_lat_band",
        "sighting",
        [sa.text("CAST(lat * 500 AS INTEGER)"), "lon", "lat", "time_utc"],
        unique=False,
    )
    op.create_index(
        "ix_sighting_plate_corrected",
        "sighting",
        ["plate_corrected"],
        unique=False,
        sqlite_where=sa.text("plate_corrected IS NOT NULL"),
    )
