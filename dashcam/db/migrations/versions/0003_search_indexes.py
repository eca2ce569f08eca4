"""search indexes: the plate table and its deletion-neighbourhood index for fuzzy plate search

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 02:22:45.988422
"""

from __future__ import annotations

from itertools import combinations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("sightings", sa.Integer(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_sighting_id", sa.Integer(), nullable=True),
        sa.Column("last_lat", sa.Float(), nullable=True),
        sa.Column("last_lon", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["last_sighting_id"], ["sighting.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("text", name="uq_plate_text"),
    )
    with op.batch_alter_table("plate", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plate_key"), ["key"], unique=False)
        batch_op.create_index("ix_plate_last_seen", ["last_seen"], unique=False)
        batch_op.create_index("ix_plate_sightings", ["sightings"], unique=False)

    op.create_table(
        "plate_variant",
        sa.Column("variant", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("plate_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["plate_id"], ["plate.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("variant", "plate_id"),
        sqlite_with_rowid=False,
    )
    # corrections are rare: index only them, so SQLite's planner keeps the index (a mostly-NULL index
    # looks unselective to it after ANALYZE and it falls back to scanning)
    with op.batch_alter_table("sighting", schema=None) as batch_op:
        batch_op.drop_index("ix_sighting_plate_corrected")
        batch_op.create_index(
            "ix_sighting_plate_corrected",
            ["plate_corrected"],
            unique=False,
            sqlite_where=sa.text("plate_corrected IS NOT NULL"),
            postgresql_where=sa.text("plate_corrected IS NOT NULL"),
        )
        # map queries seek 1/500-degree latitude bands by longitude (dashcam.search.query.LAT_BANDS)
        batch_op.create_index(
            "ix_sighting_lat_band",
            [sa.text("CAST(lat * 500 AS INTEGER)"), "lon", "lat", "time_utc"],
            unique=False,
        )
    _backfill()


# Frozen copies of dashcam.search's folding (default confusions) so this migration never changes meaning.
_CONFUSIONS = {"O": "0", "I": "1", "B": "8", "S": "5", "Z": "2", "Q": "0", "D": "0"}


def _variants(key: str) -> set[str]:
    out = {key}
    for k in (1, 2):
        for gone in combinations(range(len(key)), k):
            out.add("".join(c for i, c in enumerate(key) if i not in gone))
    out.discard("")
    return out


def _backfill() -> None:
    """Index the plates of sightings written before this revision (dashcam.search.reindex_plates does the same)."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT eff, n, first, id, time_utc, lat, lon FROM ("
            " SELECT coalesce(plate_corrected, plate_text) AS eff, id, time_utc, lat, lon,"
            "  count(*) OVER (PARTITION BY coalesce(plate_corrected, plate_text)) AS n,"
            "  min(time_utc) OVER (PARTITION BY coalesce(plate_corrected, plate_text)) AS first,"
            "  row_number() OVER (PARTITION BY coalesce(plate_corrected, plate_text)"
            "   ORDER BY time_utc DESC NULLS LAST, id DESC) AS rn"
            " FROM sighting WHERE coalesce(plate_corrected, plate_text) <> '') ranked WHERE rn = 1"
        )
    ).all()
    for r in rows:
        key = "".join(_CONFUSIONS.get(c, c) for c in r.eff.upper() if c.isascii() and c.isalnum())
        plate_id = bind.execute(
            sa.text(
                "INSERT INTO plate (text, key, sightings, first_seen, last_seen, last_sighting_id, last_lat,"
                " last_lon) VALUES (:t, :k, :n, :f, :l, :s, :lat, :lon) RETURNING id"
            ),
            {
                "t": r.eff,
                "k": key,
                "n": r.n,
                "f": r.first,
                "l": r.time_utc,
                "s": r.id,
                "lat": r.lat,
                "lon": r.lon,
            },
        ).scalar_one()
        bind.execute(
            sa.text("INSERT INTO plate_variant (variant, plate_id) VALUES (:v, :p)"),
            [{"v": v, "p": plate_id} for v in _variants(key)],
        )


def downgrade() -> None:
    with op.batch_alter_table("sighting", schema=None) as batch_op:
        batch_op.drop_index("ix_sighting_lat_band")
        batch_op.drop_index("ix_sighting_plate_corrected")
        batch_op.create_index("ix_sighting_plate_corrected", ["plate_corrected"], unique=False)
    op.drop_table("plate_variant")
    with op.batch_alter_table("plate", schema=None) as batch_op:
        batch_op.drop_index("ix_plate_sightings")
        batch_op.drop_index("ix_plate_last_seen")
        batch_op.drop_index(batch_op.f("ix_plate_key"))

    op.drop_table("plate")
