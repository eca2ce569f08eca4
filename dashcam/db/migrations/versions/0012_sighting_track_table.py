"""a sighting's per-frame boxes and colour signature move out of its row into sighting_track

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 13:20:00

With a box per frame in the row (about 45 bytes each, ten a second, and the signature's 96 numbers), a
sighting took a 4 KiB page or more of its own: a search, which reads sighting rows by the hundred, read a
page per row and followed overflow pages to reach the columns stored after the boxes (time, place, plate);
under SQLCipher each of those pages is decrypted. Without them some thirty rows share a page.

On SQLite the sighting table is copied without them (a column dropped in place leaves each row alone on
its page: measured, 1M sightings kept 800k pages 96 % empty), and the two indexes SQLite's reflection
cannot read back (ix_sighting_lat_band, an expression; ix_sighting_plate_corrected, partial) are made
again. The pages the old table held are reused by new rows; `VACUUM` gives them back to the file system.
PostgreSQL kept the large values out of line (TOAST) already: the columns are dropped in place.
"""

from __future__ import annotations

import warnings

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sighting_track",
        sa.Column("sighting_id", sa.Integer(), nullable=False),
        sa.Column("boxes", sa.JSON(), nullable=False),
        sa.Column("signature", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["sighting_id"], ["sighting.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("sighting_id"),
    )
    op.execute(
        "INSERT INTO sighting_track (sighting_id, boxes, signature) "
        "SELECT id, COALESCE(boxes, '[]'), signature FROM sighting"
    )
    if op.get_bind().dialect.name != "sqlite":
        op.drop_column("sighting", "signature")
        op.drop_column("sighting", "boxes")
        return
    # the copy is made with foreign keys off (migrations/env.py), so dropping the old table takes nothing
    # along; the expression index the reflection skips (and says so) is made again below
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index")
        table = _sighting_as_it_is(op.get_bind())
        with op.batch_alter_table("sighting", recreate="always", copy_from=table) as batch_op:
            batch_op.drop_column("signature")
            batch_op.drop_column("boxes")
    sqlite_indexes()


def _sighting_as_it_is(bind: sa.engine.Connection) -> sa.Table:
    """The sighting table as SQLite has it, with the ON DELETE actions that SQLAlchemy's reflection misses
    on a reference declared inside its column (0011's continues_id: SET NULL) taken from SQLite itself."""
    table = sa.Table("sighting", sa.MetaData(), autoload_with=bind)
    actions = {row[3]: row[6] for row in bind.exec_driver_sql("PRAGMA foreign_key_list(sighting)")}
    for fk in table.foreign_key_constraints:
        action = actions.get(fk.column_keys[0], "NO ACTION")
        if action != "NO ACTION":
            fk.ondelete = action
    return table


def sqlite_indexes() -> None:
    """The sighting indexes a batch copy loses on SQLite, made as 0003 made them."""
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


def downgrade() -> None:
    op.add_column("sighting", sa.Column("boxes", sa.JSON(), nullable=True))
    op.add_column("sighting", sa.Column("signature", sa.JSON(), nullable=True))
    op.execute(
        "UPDATE sighting SET "
        "boxes = (SELECT t.boxes FROM sighting_track t WHERE t.sighting_id = sighting.id), "
        "signature = (SELECT t.signature FROM sighting_track t WHERE t.sighting_id = sighting.id)"
    )
    op.drop_table("sighting_track")
