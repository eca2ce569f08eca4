"""What a stage found, in words a person reads: the rows of a Prefect artifact, the watchlist hits of a run.

Plain functions over the database (no Prefect here): the flows publish them as artifacts and events, the
in-process runner prints them and may send them through Apprise (:mod:`dashcam.notify`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select

from dashcam.db.models import Clip, Sighting
from dashcam.db.session import session_scope
from dashcam.localtime import local_display
from dashcam.stages.context import StageContext


def sighting_link(ctx: StageContext, sighting_id: int) -> str | None:
    """The sighting's page in the web UI, where ``webui.public_url`` says people reach it."""
    base = ctx.config.global_config.webui.public_url
    return f"{base.rstrip('/')}/sighting/{sighting_id}" if base else None


def sightings_table(ctx: StageContext, clip_id: int) -> list[dict[str, Any]]:
    """One row per sighting of a clip: plate, label, local time, place, the web UI's link."""
    with session_scope(ctx.engine) as s:
        clip = s.get(Clip, clip_id)
        rows = s.execute(
            select(Sighting).where(Sighting.clip_id == clip_id).order_by(Sighting.first_s)
        ).scalars()
        offset = clip.utc_offset_s if clip else None
        return [
            {
                "plate": r.plate_corrected or r.plate_text or "",
                "label": r.label,
                "time": local_display(r.time_utc, offset),
                "place": f"{r.lat:.5f}, {r.lon:.5f}" if r.lat is not None and r.lon is not None else "",
                "link": sighting_link(ctx, int(r.id)) or "",  # type: ignore[arg-type]
            }
            for r in rows
        ]


@dataclass(frozen=True)
class WatchlistHit:
    sighting_id: int
    clip_id: int
    file_name: str
    plate: str
    names: tuple[str, ...]
    time: str  # local, with its offset
    lat: float | None
    lon: float | None
    link: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        place = f" at {self.lat:.5f}, {self.lon:.5f}" if self.lat is not None and self.lon is not None else ""
        when = f" {self.time}" if self.time else ""
        return f"watchlist: {self.plate} ({', '.join(self.names)}) seen{when}{place} in {self.file_name}" + (
            f": {self.link}" if self.link else f" (sighting {self.sighting_id})"
        )


def watchlist_hits(ctx: StageContext, clip_ids: list[int]) -> list[WatchlistHit]:
    """The sightings of these clips whose plate (a correction first) a watchlist entry matches."""
    if not clip_ids:
        return []
    from dashcam.db.models import WatchlistEntry
    from dashcam.search import watchlist_matches

    confusions = ctx.config.global_config.plates.confusions
    out = []
    with session_scope(ctx.engine) as s:
        entries = s.execute(select(WatchlistEntry)).scalars().all()
        if not entries:
            return []
        rows = s.execute(
            select(Sighting, Clip.file_name, Clip.utc_offset_s)
            .join(Clip, Clip.id == Sighting.clip_id)  # type: ignore[arg-type]
            .where(Sighting.clip_id.in_(clip_ids))  # type: ignore[attr-defined]
            .order_by(Sighting.clip_id, Sighting.first_s)
        ).all()
        for sighting, file_name, offset in rows:
            plate = sighting.plate_corrected or sighting.plate_text
            if not plate:
                continue
            found = watchlist_matches(session=s, plate_text=plate, confusions=confusions, entries=entries)
            if found:
                sid = int(sighting.id)
                out.append(
                    WatchlistHit(
                        sid,
                        sighting.clip_id,
                        file_name,
                        plate,
                        tuple(m.name for m in found),
                        local_display(sighting.time_utc, offset),
                        sighting.lat,
                        sighting.lon,
                        sighting_link(ctx, sid),
                    )
                )
    return out
