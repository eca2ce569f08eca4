"""Map: sightings clustered on a grid (dense areas stay readable), trips coloured by speed, area search."""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from nicegui import events, ui
from sqlalchemy import Integer, cast, func, select
from sqlmodel import Session, col

from dashcam.db.models import Clip, GpsPoint, Sighting
from dashcam.localtime import local_iso
from webui import state
from webui.components.maps import TileMap, draw_route
from webui.theme import frame

MAX_CLUSTERS = 2000


def cell_deg(zoom: int) -> float:
    """Grid cell of the clusters: about 60 screen pixels at this zoom."""
    return 360.0 / (2 ** max(0, zoom)) / 256 * 60


def clusters(*, session: Session, zoom: int) -> list[tuple[float, float, int]]:
    """(lat, lon, count) per grid cell holding sightings (aggregated in the database)."""
    size = cell_deg(zoom)
    # CAST, not floor(): SQLite may be built without its math functions; cells only need to be stable
    gy = cast(col(Sighting.lat) / size, Integer)
    gx = cast(col(Sighting.lon) / size, Integer)
    rows = session.execute(
        select(func.avg(col(Sighting.lat)), func.avg(col(Sighting.lon)), func.count())
        .where(col(Sighting.lat).is_not(None), col(Sighting.lon).is_not(None))
        .group_by(gy, gx)
        .order_by(func.count().desc())
        .limit(MAX_CLUSTERS)
    ).all()
    return [(float(a), float(b), int(n)) for a, b, n in rows]


# no camera's clock is further than this from UTC
MAX_OFFSET = timedelta(hours=14)


def trip_days(*, session: Session) -> list[str]:
    """The days with a GPS track, newest first, on the cameras' own clocks (local days)."""
    rows = session.execute(
        select(func.min(col(GpsPoint.time_utc)), func.max(col(GpsPoint.time_utc))).where(
            col(GpsPoint.time_utc).is_not(None)
        )
    ).one()
    if rows[0] is None:
        return []
    lo, hi = session.execute(select(func.min(col(Clip.utc_offset_s)), func.max(col(Clip.utc_offset_s)))).one()
    first = date.fromisoformat((local_iso(rows[0], lo) or "")[:10])
    last = date.fromisoformat((local_iso(rows[1], hi) or "")[:10])
    return [(last - timedelta(days=i)).isoformat() for i in range(min(366, (last - first).days + 1))]


def trip(*, session: Session, day: str) -> list[tuple[float, float, float | None]]:
    """The GPS points of a local day (each clip's own clock), in time order."""
    start = datetime.combine(date.fromisoformat(day), time(), tzinfo=timezone.utc)
    rows = session.execute(
        select(
            col(GpsPoint.lat),
            col(GpsPoint.lon),
            col(GpsPoint.speed_kmh),
            col(GpsPoint.time_utc),
            col(Clip.utc_offset_s),
        )
        .join(Clip, col(Clip.id) == col(GpsPoint.clip_id))
        .where(
            col(GpsPoint.time_utc) >= start - MAX_OFFSET,
            col(GpsPoint.time_utc) < start + timedelta(days=1) + MAX_OFFSET,
        )
        .order_by(col(GpsPoint.time_utc))
        .limit(400_000)
    ).all()
    return [(a, b, c) for a, b, c, t, off in rows if (local_iso(t, off) or "").startswith(day)]


class MapView:
    def __init__(self, zoom: int = 11) -> None:
        self.zoom = zoom
        with ui.row().classes("w-full items-center gap-2"):
            self.day = (
                ui.select([], label="Trip on day", clearable=True).props("dense outlined").classes("w-48")
            )
            self.day.mark("trip-day")
            ui.button("Search in this view", icon="search", on_click=self.search_view).props(
                "outline no-caps"
            ).mark("search-view")
            ui.label("or draw a rectangle to search in it").classes("text-sm text-slate-500")
            ui.space()
            ui.label("speed:").classes("text-xs text-slate-500")
            for label, color in (("slow", "#28b440"), ("90 km/h", "#d06840"), ("120+", "#f03240")):
                ui.badge(label).style(f"background:{color}")
        draw = {
            "draw": {
                k: k == "rectangle"
                for k in ("rectangle", "polygon", "polyline", "circle", "marker", "circlemarker")
            },
            "edit": False,
        }
        self.map = TileMap(zoom=zoom, draw_control=draw, hide_drawn_items=True).classes(
            "w-full h-[70vh] rounded"
        )
        self.map.mark("map")
        self.map.on("draw:created", self.drawn)
        self.map.on("map-zoomend", self.zoomed)
        self.layers: list[Any] = []
        self.route: list[Any] = []
        self.day.on_value_change(self.show_trip)
        ui.timer(0.01, self.load, once=True)

    async def load(self) -> None:
        days = await state.db(trip_days)
        self.day.set_options(days)
        await self.show_clusters(fit=True)

    async def zoomed(self, e: events.GenericEventArguments) -> None:
        zoom = int(e.args.get("zoom", self.zoom))
        if zoom != self.zoom:
            self.zoom = zoom
            await self.show_clusters()

    async def show_clusters(self, *, fit: bool = False) -> None:
        found = await state.db(clusters, zoom=self.zoom)
        for layer in self.layers:
            self.map.remove_layer(layer)
        self.layers = []
        for lat, lon, n in found:
            if n == 1:
                self.layers.append(self.map.marker(latlng=(lat, lon)))
            else:
                r = 8 + 4 * math.log10(n) * 3
                self.layers.append(
                    self.map.generic_layer(
                        name="circleMarker",
                        args=[
                            [lat, lon],
                            {"radius": r, "color": "#0f766e", "fillColor": "#14b8a6", "fillOpacity": 0.55},
                        ],
                    )
                )
                self.layers[-1].run_method("bindTooltip", f"{n} sightings")
        if fit and found:
            self.map.fit([(a, b) for a, b, _ in found])

    async def show_trip(self) -> None:
        for layer in self.route:
            self.map.remove_layer(layer)
        self.route = []
        if not self.day.value:
            return
        points = await state.db(trip, day=self.day.value)
        before = len(self.map.layers)
        draw_route(self.map, points)
        self.route = self.map.layers[before:]
        self.map.fit([(a, b) for a, b, _ in points])

    def drawn(self, e: events.GenericEventArguments) -> None:
        b = (e.args.get("layer") or {}).get("_bounds") or {}
        sw, ne = b.get("_southWest"), b.get("_northEast")
        if sw and ne:
            ui.navigate.to(f"/?bbox={sw['lat']:.6f},{sw['lng']:.6f},{ne['lat']:.6f},{ne['lng']:.6f}")

    async def search_view(self) -> None:
        b = await self.map.run_map_method("getBounds", timeout=3)
        sw, ne = (b or {}).get("_southWest"), (b or {}).get("_northEast")
        if sw and ne:
            s, w = max(-90.0, sw["lat"]), max(-180.0, sw["lng"])
            n, e = min(90.0, ne["lat"]), min(180.0, ne["lng"])
            ui.navigate.to(f"/?bbox={s:.6f},{w:.6f},{n:.6f},{e:.6f}")


def register() -> None:
    @ui.page("/map")
    async def map_page() -> None:
        with frame("Map", active="Map"):
            MapView()
