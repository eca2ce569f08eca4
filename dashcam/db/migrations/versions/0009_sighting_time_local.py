"""sightings carry their local wall-clock time, so a date typed in a search means the clip's own day

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 22:00:00
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

BATCH = 5000


def _local(when: datetime | str | None, offset: int | None) -> str | None:
    # the rule of dashcam.localtime.local_iso, written out: a migration never imports moving code
    if when is None:
        return None
    if isinstance(when, str):  # SQLite through Core without type processing
        when = datetime.fromisoformat(when)
    when = when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)
    return (when + timedelta(seconds=offset or 0)).replace(tzinfo=None).isoformat(timespec="seconds")


def upgrade() -> None:
    # plain ALTER TABLE, no batch copy: SQLite's copy of the table would lose the expression index of
    # 0003 (ix_sighting_lat_band), which reflection cannot see
    op.add_column(
        "sighting", sa.Column("time_local", sqlmodel.sql.sqltypes.AutoString(length=19), nullable=True)
    )
    op.create_index("ix_sighting_time_local", "sighting", ["time_local"], unique=False)
    conn = op.get_bind()
    sighting = sa.table(
        "sighting",
        sa.column("id", sa.Integer),
        sa.column("clip_id", sa.Integer),
        sa.column("time_utc", sa.DateTime(timezone=True)),
        sa.column("time_local", sa.String),
    )
    clip = sa.table("clip", sa.column("id", sa.Integer), sa.column("utc_offset_s", sa.Integer))
    last = 0
    while True:
        rows = conn.execute(
            sa.select(sighting.c.id, sighting.c.time_utc, clip.c.utc_offset_s)
            .join(clip, clip.c.id == sighting.c.clip_id)
            .where(sighting.c.id > last, sighting.c.time_utc.is_not(None))
            .order_by(sighting.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        conn.execute(
            sighting.update()
            .where(sighting.c.id == sa.bindparam("sid"))
            .values(time_local=sa.bindparam("local")),
            [{"sid": r.id, "local": _local(r.time_utc, r.utc_offset_s)} for r in rows],
        )
        last = rows[-1].id


def downgrade() -> None:
    op.drop_index("ix_sighting_time_local", table_name="sighting")
    # SQLite drops a column in place since 3.35 (Python's bundled SQLite is newer); no batch copy either
    op.execute("ALTER TABLE sighting DROP COLUMN time_local")
