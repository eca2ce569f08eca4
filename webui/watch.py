"""Watchlist notices: a plate on the watchlist seen since the browser last looked."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from nicegui import app, ui
from sqlalchemy import func, select
from sqlmodel import Session, col

from dashcam.db.models import Sighting, WatchlistEntry
from dashcam.search import watchlist_matches
from dashcam.search.index import effective_plate
from webui import state

log = logging.getLogger(__name__)

SCAN = 500
"""At most this many of the newest sightings are checked per look (a first visit, a big import)."""


@dataclass(frozen=True)
class Notice:
    sighting_id: int
    plate: str
    names: tuple[str, ...]


def new_matches(*, session: Session, after_id: int) -> tuple[int, list[Notice]]:
    """(newest sighting id, watchlist hits among sightings with a larger id), newest first."""
    newest = session.execute(select(func.max(col(Sighting.id)))).scalar() or 0
    entries = session.execute(select(WatchlistEntry)).scalars().all()
    if not entries or newest <= after_id:
        return newest, []
    rows = session.execute(
        select(col(Sighting.id), effective_plate().label("plate"))
        .where(col(Sighting.id) > max(after_id, newest - SCAN), effective_plate().is_not(None))
        .order_by(col(Sighting.id).desc())
    ).all()
    conf = state.get().confusions
    out = []
    for sid, plate in rows:
        found = watchlist_matches(session=session, plate_text=plate, confusions=conf, entries=entries)
        if found:
            out.append(Notice(sid, plate, tuple(m.name for m in found)))
    return newest, out


async def notify_new() -> None:
    """Show a notice per new watchlist hit (a few at most) and remember how far this browser has seen."""
    after = int(app.storage.user.get("watch_last_id", 0))
    newest, notices = await state.db(new_matches, after_id=after)
    app.storage.user["watch_last_id"] = newest
    log.debug("watchlist: this browser has seen sightings up to %d (%d new hits)", newest, len(notices))
    for n in notices[:3]:
        ui.notify(
            f"Watchlist: {n.plate} ({', '.join(n.names)}) seen — sighting {n.sighting_id}",
            type="warning",
            position="top-right",
            timeout=15000,
        )
    if len(notices) > 3:
        ui.notify(f"… and {len(notices) - 3} more watchlist sightings", type="warning", position="top-right")
