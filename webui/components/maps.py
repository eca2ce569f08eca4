"""Leaflet maps with the configured tile layer (none offline), markers and speed-coloured routes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nicegui import ui

from webui import state

DEFAULT_CENTER = (48.137, 11.575)


class TileMap(ui.leaflet):
    """``ui.leaflet`` whose tiles come from the configuration (DASHCAM_UI_TILE_URL), not a hard-coded URL."""

    def __init__(self, center: tuple[float, float] = DEFAULT_CENTER, zoom: int = 13, **kwargs: Any) -> None:
        super().__init__(center=center, zoom=zoom, **kwargs)
        self.clear_layers()
        url = state.get().tile_url
        if url:
            self.tile_layer(
                url_template=url,
                options={
                    "maxZoom": 19,
                    "attribution": '&copy; <a href="https://openstreetmap.org">OpenStreetMap</a> contributors',
                },
            )

    def fit(self, points: Sequence[tuple[float, float]]) -> None:
        """Centre on the points (and zoom to their bounds once the map is up)."""
        if not points:
            return
        lats, lons = [p[0] for p in points], [p[1] for p in points]
        self.set_center(((min(lats) + max(lats)) / 2, (min(lons) + max(lons)) / 2))
        if len(points) > 1:
            self.run_map_method(
                "fitBounds", [[min(lats), min(lons)], [max(lats), max(lons)]], {"padding": [20, 20]}
            )

    def circle(
        self, lat: float, lon: float, *, radius: int = 8, color: str = "#0f766e", tip: str = ""
    ) -> None:
        layer = self.generic_layer(
            name="circleMarker",
            args=[[lat, lon], {"radius": radius, "color": color, "fillColor": color, "fillOpacity": 0.6}],
        )
        if tip:
            layer.run_method("bindTooltip", tip)


def speed_color(kmh: float | None) -> str:
    """Green when slow, through amber, to red above 120 km/h."""
    if kmh is None:
        return "#64748b"
    x = max(0.0, min(1.0, kmh / 120.0))
    r, g = int(40 + 200 * x), int(180 - 130 * x)
    return f"#{r:02x}{g:02x}40"


def draw_route(m: ui.leaflet, points: Sequence[tuple[float, float, float | None]]) -> None:
    """A GPS track as polylines coloured by speed (one segment per run of similar colour)."""
    if len(points) < 2:
        return
    run: list[list[float]] = [[points[0][0], points[0][1]]]
    color = speed_color(points[1][2])
    for lat, lon, kmh in points[1:]:
        run.append([lat, lon])
        c = speed_color(kmh)
        if c != color and len(run) > 1:
            m.generic_layer(name="polyline", args=[run, {"color": color, "weight": 5, "opacity": 0.85}])
            run, color = [[lat, lon]], c
    if len(run) > 1:
        m.generic_layer(name="polyline", args=[run, {"color": color, "weight": 5, "opacity": 0.85}])
