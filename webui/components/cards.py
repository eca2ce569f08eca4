"""A search hit as a card: thumbnail, plate, label, time and place; a click opens the sighting."""

from __future__ import annotations

from nicegui import ui

from dashcam.search import SearchHit
from webui.theme import fmt_local, fmt_place

CHANNELS = {"F": "front", "R": "rear", "I": "interior", "T": "tele"}


class HitCard(ui.card):
    def __init__(self, hit: SearchHit) -> None:
        super().__init__()
        self.hit = hit
        self.classes("w-full p-0 gap-0 cursor-pointer hover:shadow-lg transition-shadow overflow-hidden")
        self.mark(f"hit-{hit.sighting_id}").props(f"data-sighting={hit.sighting_id}")
        self.on("click", lambda: ui.navigate.to(f"/sighting/{hit.sighting_id}"))
        with self:
            if hit.thumbnail_id is not None:
                ui.image(f"/media/{hit.thumbnail_id}").classes("w-full h-36 bg-slate-200").props(
                    "fit=cover loading=lazy no-spinner"
                )
            else:
                with ui.element("div").classes("w-full h-36 bg-slate-200 flex items-center justify-center"):
                    ui.icon("directions_car", size="xl").classes("text-slate-400")
            with ui.column().classes("p-3 gap-1 w-full"):
                with ui.row().classes("items-center gap-2 w-full no-wrap"):
                    if hit.plate:
                        ui.label(hit.plate).classes(
                            "font-mono font-bold text-base bg-amber-100 border border-amber-400 rounded px-1"
                        )
                    ui.label(hit.label).classes("text-sm text-slate-600")
                    ui.space()
                    if hit.match and hit.match != "exact":
                        text = (
                            f"{hit.edits} edit{'s' if hit.edits != 1 else ''}"
                            if hit.match == "edits"
                            else hit.match
                        )
                        ui.badge(text, color="grey-6").props("outline")
                    if hit.corrected:
                        ui.icon("edit", size="xs").classes("text-teal-700").tooltip("corrected by a user")
                ui.label(fmt_local(hit.time_utc, hit.utc_offset_s)).classes("text-xs text-slate-500")
                with ui.row().classes("gap-2 text-xs text-slate-500 items-center"):
                    ui.icon("place", size="xs")
                    ui.label(fmt_place(hit.lat, hit.lon))
                    if hit.channel:
                        ui.label(CHANNELS.get(hit.channel, hit.channel))
                    if hit.protected or hit.clip_kind == "event":
                        ui.icon("shield", size="xs").classes("text-amber-600").tooltip(hit.clip_kind)
