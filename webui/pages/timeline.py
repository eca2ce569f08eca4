"""Timeline: days with footage, distance driven and sightings per day (a chart, then the days)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from nicegui import ui
from sqlalchemy import func, select
from sqlmodel import Session, col

from dashcam.db.models import Clip, GpsPoint, Sighting
from dashcam.gps.track import distance_m
from dashcam.localtime import local_iso
from webui import state
from webui.theme import frame

MAX_JUMP_M = 2000.0
"""A larger step between two fixes of one clip is a GPS glitch, not driving."""


@dataclass
class Day:
    day: str
    clips: int
    sightings: int
    km: float


def days(*, session: Session) -> list[Day]:
    """Clips, sightings and distance per day, each on the camera's own clock (its local day)."""
    out: dict[str, Day] = {}

    def get(d: str) -> Day:
        return out.setdefault(d, Day(d, 0, 0, 0.0))

    offsets: dict[int, int] = {}
    for clip_id, offset, start in session.execute(
        select(col(Clip.id), col(Clip.utc_offset_s), col(Clip.recorded_at)).where(
            col(Clip.recorded_at).is_not(None)
        )
    ):
        offsets[clip_id] = offset or 0
        get((local_iso(start, offset) or "")[:10]).clips += 1
    sighting_day = func.substr(col(Sighting.time_local), 1, 10)
    for d, n in session.execute(
        select(sighting_day, func.count()).where(col(Sighting.time_local).is_not(None)).group_by(sighting_day)
    ):
        get(str(d)).sightings = int(n)
    # distance: consecutive fixes within each clip (one pass over the points, ordered by the unique index)
    dist: dict[str, float] = defaultdict(float)
    last: tuple[int, float, float] | None = None
    for clip_id, t, lat, lon in session.execute(
        select(col(GpsPoint.clip_id), col(GpsPoint.time_utc), col(GpsPoint.lat), col(GpsPoint.lon)).order_by(
            col(GpsPoint.clip_id), col(GpsPoint.t)
        )
    ):
        if last is not None and last[0] == clip_id and t is not None:
            step = distance_m(last[1], last[2], lat, lon)
            if step < MAX_JUMP_M:
                dist[(local_iso(t, offsets.get(clip_id)) or "")[:10]] += step
        last = (clip_id, lat, lon)
    for d, m in dist.items():
        get(d).km = round(m / 1000, 2)
    return sorted(out.values(), key=lambda x: x.day)


def register() -> None:
    @ui.page("/timeline")
    async def timeline_page() -> None:
        with frame("Timeline", active="Timeline"):
            data = await state.db(days)
            ui.label(
                f"{sum(1 for d in data if d.clips)} days with footage · "
                f"{sum(d.km for d in data):.1f} km driven · {sum(d.sightings for d in data)} sightings"
            ).classes("text-slate-600").mark("timeline-summary")
            chart = ui.echart(
                {
                    "tooltip": {"trigger": "axis"},
                    "legend": {"data": ["sightings", "km"]},
                    "xAxis": {"type": "category", "data": [d.day for d in data]},
                    "yAxis": [{"type": "value", "name": "sightings"}, {"type": "value", "name": "km"}],
                    "dataZoom": [{"type": "inside"}, {"type": "slider"}],
                    "series": [
                        {
                            "name": "sightings",
                            "type": "bar",
                            "data": [d.sightings for d in data],
                            "itemStyle": {"color": "#0f766e"},
                        },
                        {
                            "name": "km",
                            "type": "line",
                            "yAxisIndex": 1,
                            "data": [d.km for d in data],
                            "itemStyle": {"color": "#f59e0b"},
                        },
                    ],
                }
            ).classes("w-full h-80")
            chart.mark("timeline-chart")
            chart.on_point_click(lambda e: ui.navigate.to(f"/?q={e.name}"))
            with ui.element("div").classes("w-full grid gap-2 grid-cols-2 md:grid-cols-4 lg:grid-cols-6"):
                for d in reversed(data):
                    with (
                        ui.card()
                        .classes("p-2 gap-0 cursor-pointer")
                        .on("click", lambda d=d: ui.navigate.to(f"/?q={d.day}"))
                    ):
                        ui.label(d.day).classes("font-medium")
                        ui.label(f"{d.clips} clips · {d.km:.1f} km · {d.sightings} sightings").classes(
                            "text-xs text-slate-500"
                        )
