"""One sighting: the video at its second, the plate crop and every read, the place, neighbours, fixes."""

from __future__ import annotations

from dataclasses import dataclass

from nicegui import ui
from sqlmodel import Session

from dashcam.db.models import Clip
from dashcam.search import SightingDetail, sighting_detail
from webui import state
from webui.components.maps import TileMap
from webui.corrections import CorrectionError, correct_plate, set_pinned, split
from webui.theme import fmt_local, fmt_place


@dataclass
class Loaded:
    detail: SightingDetail
    pinned: bool
    has_gps: bool
    video_id: int | None
    video_start_s: float


def load(*, session: Session, sighting_id: int) -> Loaded | None:
    from sqlalchemy import select
    from sqlmodel import col

    from dashcam.db.models import GpsPoint

    d = sighting_detail(session=session, sighting_id=sighting_id, confusions=state.get().confusions)
    if d is None:
        return None
    clip = session.get(Clip, d.hit.clip_id)
    assert clip is not None
    has_gps = session.execute(
        select(col(GpsPoint.id)).where(col(GpsPoint.clip_id) == clip.id).limit(1)
    ).first()
    whole = next((m for m in d.media if m.kind == "clip_web"), None)
    short = next((m for m in d.media if m.kind == "sighting_clip"), None)
    video_id, start = None, 0.0
    if whole is not None:
        video_id, start = whole.id, d.hit.best_s
    elif short is not None:
        from dashcam.stages.heavy.analysis import (  # how the heavy stage cut the short clip
            CLIP_MARGIN_S,
            CLIP_MAX_S,
        )

        begin = max(0.0, d.hit.first_s - CLIP_MARGIN_S, d.hit.best_s - CLIP_MAX_S / 2)
        video_id, start = short.id, max(0.0, d.hit.best_s - begin)
    return Loaded(d, clip.pinned, has_gps is not None, video_id, round(start, 2))


def _reads_table(d: SightingDetail) -> None:
    """Every read of the plate in time order, with what it was worth: the plate is the vote of the best."""
    rows = [
        {
            "t": f"{r.t:.2f}",
            "raw": r.text_raw,
            "text": r.text,
            "conf": f"{r.confidence:.2f}",
            "evidence": "-" if r.evidence is None else f"{r.evidence:.2f}",
        }
        for r in sorted(d.reads, key=lambda r: r.t)
    ]
    columns = [
        {"name": "t", "label": "at s", "field": "t", "align": "left"},
        {"name": "text", "label": "Read", "field": "text", "align": "left"},
        {"name": "raw", "label": "OCR raw", "field": "raw", "align": "left"},
        {"name": "conf", "label": "Confidence", "field": "conf"},
        {"name": "evidence", "label": "Evidence", "field": "evidence"},
    ]
    ui.table(columns=columns, rows=rows, row_key="t").props("dense flat").classes("w-full").mark("reads")
    ui.label("Evidence: confidence, lowered for a small or blurred plate; the best reads decide.").classes(
        "text-xs text-slate-500"
    )


def label_text(label: str, scores: dict[str, float]) -> str:
    """The class with its share of the track's class scores, e.g. "car 82 %" (the label alone without them)."""
    share = scores.get(label)
    return label if share is None else f"{label} {share * 100:.0f} %"


class SightingView:
    def __init__(self, data: Loaded) -> None:
        self.data = data
        d, h = data.detail, data.detail.hit
        with ui.row().classes("w-full items-center gap-3"):
            ui.label(h.plate or h.label).classes(
                "text-3xl font-mono font-bold"
                + (" bg-amber-100 border-2 border-amber-400 rounded px-2" if h.plate else "")
            ).mark("plate")
            if h.corrected:
                ui.badge(f"corrected · OCR read {h.plate_ocr}", color="teal").mark("corrected")
            ui.label(label_text(h.label, d.label_scores)).classes("text-slate-600").mark("label")
            ui.label(fmt_local(h.time_utc, h.utc_offset_s)).classes("text-slate-600").mark("when")
            ui.space()
            ui.button(
                icon="chevron_left", on_click=lambda: ui.navigate.to(f"/sighting/{d.previous_id}")
            ).props("flat round").set_enabled(d.previous_id is not None)
            ui.label("same plate").classes("text-xs text-slate-500")
            ui.button(icon="chevron_right", on_click=lambda: ui.navigate.to(f"/sighting/{d.next_id}")).props(
                "flat round"
            ).set_enabled(d.next_id is not None)
        for w in d.watchlist:
            with ui.row().classes(
                "w-full bg-amber-100 border border-amber-400 rounded p-2 items-center gap-2"
            ):
                ui.icon("notifications_active").classes("text-amber-700")
                ui.label(f"On the watchlist: {w.name} ({w.mode} {w.pattern})").mark("watchlist-banner")
        with ui.row().classes("w-full gap-4 items-start no-wrap max-lg:flex-wrap"):
            with ui.column().classes("flex-grow gap-2 min-w-[320px]"):
                if data.video_id is not None:
                    video = ui.video(f"/media/{data.video_id}#t={data.video_start_s}", muted=True)
                    video.props(f'preload=auto data-start="{data.video_start_s}"').classes(
                        "w-full rounded bg-black"
                    )
                    video.mark("video")
                else:
                    ui.label("No video kept for this sighting.").classes("text-slate-500")
                with ui.row().classes("gap-2"):
                    for m in d.media:
                        if m.kind in ("sighting_clip", "clip_web"):
                            label = "Download clip" if m.kind == "clip_web" else "Download sighting clip"
                            ui.button(
                                label,
                                icon="download",
                                on_click=lambda i=m.id: ui.navigate.to(f"/download/{i}"),
                            ).props("outline no-caps")
                    if data.has_gps:
                        ui.button(
                            "GPX", icon="route", on_click=lambda: ui.navigate.to(f"/gpx/{h.clip_id}")
                        ).props("outline no-caps").mark("gpx")
                ui.label(
                    f"{h.file_name} · {h.best_s:.1f} s · channel {h.channel or '?'} · {h.clip_kind}"
                ).classes("text-xs text-slate-500")
            with ui.column().classes("w-96 gap-3"):
                crop = next((m for m in d.media if m.kind == "plate_crop"), None)
                if crop is not None:
                    ui.image(f"/media/{crop.id}").classes("w-full rounded border").mark("plate-crop")
                if d.reads:
                    _reads_table(d)
                if d.plate_alternatives:
                    ui.label("Alternatives: " + ", ".join(d.plate_alternatives)).classes(
                        "text-sm text-slate-600"
                    )
                self._tracks()
                self._fix_controls()
                ui.label(fmt_place(h.lat, h.lon)).classes("text-sm")
                if h.lat is not None and h.lon is not None:
                    m = (
                        TileMap(center=(h.lat, h.lon), zoom=15)
                        .classes("w-full h-56 rounded")
                        .mark("mini-map")
                    )
                    m.marker(latlng=(h.lat, h.lon))

    def _tracks(self) -> None:
        """Joined tracks (with a way to undo the join) and the same vehicle in the files around this one."""
        d = self.data.detail
        if d.merged_from > 1:
            with ui.row().classes("items-center gap-2"):
                ui.label(f"merged from {d.merged_from} tracks").classes("text-sm text-slate-600").mark(
                    "merged"
                )

                async def undo() -> None:
                    try:
                        ids = await state.db(split, sighting_id=d.hit.sighting_id)
                    except CorrectionError as exc:
                        ui.notify(str(exc), type="negative")
                        return
                    ui.notify(f"Split into {len(ids)} sightings", type="positive")
                    ui.navigate.reload()

                ui.button("Split", icon="call_split", on_click=undo).props("flat dense no-caps").tooltip(
                    "These are different vehicles: give each track its own sighting"
                ).mark("split")
        for target, text, mark in (
            (d.continues_id, "continues from the previous file", "continues-from"),
            (d.continued_by_id, "continues in the next file", "continues-in"),
        ):
            if target is not None:
                ui.link(text, f"/sighting/{target}").classes("text-sm").mark(mark)

    def _fix_controls(self) -> None:
        h = self.data.detail.hit
        with ui.expansion("Fix plate / keep clip", icon="edit").classes("w-full border rounded").mark("fix"):
            fix = (
                ui.input("Correct plate", value=h.plate if h.corrected else "")
                .props("dense outlined")
                .mark("fix-input")
            )

            async def save(value: str | None) -> None:
                try:
                    await state.db(correct_plate, sighting_id=h.sighting_id, plate=value)
                except CorrectionError as exc:
                    ui.notify(str(exc), type="negative")
                    return
                ui.notify("Plate corrected" if value else "Correction removed", type="positive")
                ui.navigate.reload()

            with ui.row().classes("gap-2"):
                ui.button("Save", on_click=lambda: save(fix.value)).props("unelevated dense").mark("fix-save")
                if h.corrected:
                    ui.button("Undo correction", on_click=lambda: save(None)).props("flat dense").mark(
                        "fix-undo"
                    )

            async def pin(e: object) -> None:
                value = bool(getattr(e, "value", False))
                await state.db(set_pinned, clip_id=h.clip_id, pinned=value)
                ui.notify("Clip pinned: retention keeps it" if value else "Clip unpinned")

            ui.switch("Pin clip (retention keeps it)", value=self.data.pinned, on_change=pin).mark("pin")


def register() -> None:
    @ui.page("/sighting/{sighting_id}")
    async def sighting_page(sighting_id: int) -> None:
        from webui.media import valid_id
        from webui.theme import frame

        data = await state.db(load, sighting_id=sighting_id) if valid_id(sighting_id) else None
        with frame("Sighting", active="Search"):
            if data is None:
                ui.label(f"No sighting {sighting_id}.").classes("text-lg").mark("not-found")
                return
            SightingView(data)
