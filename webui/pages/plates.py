"""Plates: every plate seen (how often, first/last seen, where), and the watchlist of known plates."""

from __future__ import annotations

from typing import Any

from nicegui import ui
from sqlalchemy import select
from sqlmodel import Session, col

from dashcam.db.models import WatchlistEntry, utcnow
from dashcam.search import PlatesPage, normalize_plate, plates_summary
from dashcam.search.pattern import PatternError, check_pattern
from webui import state
from webui.theme import fmt_place, fmt_time, frame

PAGE = 100
MODES = {"exact": "exact plate", "pattern": "pattern (RE2)", "edits": "within N edits"}


def list_plates(*, session: Session, prefix: str, order: str, offset: int) -> PlatesPage:
    return plates_summary(
        session=session,
        prefix=prefix or None,
        order=order,  # type: ignore[arg-type]
        limit=PAGE,
        offset=offset,
        confusions=state.get().confusions,
    )


def list_watchlist(*, session: Session) -> list[dict[str, Any]]:
    rows = session.execute(select(WatchlistEntry).order_by(col(WatchlistEntry.name))).scalars()
    return [
        {
            "id": e.id,
            "name": e.name,
            "pattern": e.pattern,
            "mode": e.mode,
            "max_edits": e.max_edits,
            "notes": e.notes,
        }
        for e in rows
    ]


def add_watch(*, session: Session, name: str, pattern: str, mode: str, max_edits: int, notes: str) -> None:
    name, pattern = name.strip(), pattern.strip()
    if not name or not pattern:
        raise ValueError("a name and a plate or pattern are needed")
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}")
    if mode == "pattern":
        try:
            check_pattern(pattern)
        except PatternError as exc:
            raise ValueError(f"pattern refused: {exc}") from None
    else:
        pattern = normalize_plate(pattern)
        if not pattern or len(pattern) > 16:
            raise ValueError("a plate has 1 to 16 letters or digits")
    if session.execute(
        select(WatchlistEntry).where(col(WatchlistEntry.pattern) == pattern, col(WatchlistEntry.mode) == mode)
    ).first():
        raise ValueError("that plate is on the watchlist already")
    session.add(
        WatchlistEntry.model_validate(
            {
                "name": name[:128],
                "pattern": pattern,
                "mode": mode,
                "max_edits": max_edits if mode == "edits" else 0,
                "notes": notes or None,
                "created_at": utcnow(),
            }
        )
    )


def delete_watch(*, session: Session, entry_id: int) -> None:
    e = session.get(WatchlistEntry, entry_id)
    if e is not None:
        session.delete(e)


def _search_link(entry: dict[str, Any]) -> str:
    if entry["mode"] == "exact":
        return f"/?q={entry['pattern']}%20exact"
    if entry["mode"] == "edits":
        return f"/?q={entry['pattern']}%20~{min(2, entry['max_edits'])}"
    return "/"


class WatchlistCard:
    def __init__(self) -> None:
        with ui.card().classes("w-full p-4 gap-2"):
            with ui.row().classes("items-center gap-2"):
                ui.icon("notifications_active").classes("text-amber-600")
                ui.label("Watchlist").classes("text-lg font-medium")
                ui.label("a notice appears when one of these is seen").classes("text-sm text-slate-500")
            self.list = ui.column().classes("w-full gap-1").mark("watchlist")
            with ui.row().classes("w-full items-end gap-2"):
                self.name = ui.input("Name").props("dense outlined").mark("watch-name")
                self.pattern = ui.input("Plate or pattern").props("dense outlined").mark("watch-pattern")
                self.mode = (
                    ui.select(MODES, value="exact").props("dense outlined").classes("w-44").mark("watch-mode")
                )
                self.edits = (
                    ui.number("Edits", value=1, min=0, max=4, step=1).props("dense outlined").classes("w-20")
                )
                self.edits.mark("watch-edits").bind_visibility_from(self.mode, "value", value="edits")
                self.notes = ui.input("Notes").props("dense outlined").classes("flex-grow")
                ui.button("Add", icon="add", on_click=self.add).props("unelevated").mark("watch-add")
        ui.timer(0.01, self.refresh, once=True)

    async def refresh(self) -> None:
        entries = await state.db(list_watchlist)
        self.list.clear()
        with self.list:
            if not entries:
                ui.label("No plates on the watchlist yet.").classes("text-sm text-slate-500")
            for e in entries:
                with ui.row().classes("w-full items-center gap-3 border-b py-1"):
                    ui.label(e["name"]).classes("font-medium w-48")
                    ui.label(e["pattern"]).classes("font-mono")
                    extra = f" ≤ {e['max_edits']}" if e["mode"] == "edits" else ""
                    ui.badge(MODES[e["mode"]] + extra, color="grey-7").props("outline")
                    ui.label(e["notes"] or "").classes("text-sm text-slate-500")
                    ui.space()
                    if e["mode"] != "pattern":
                        ui.button(icon="search", on_click=lambda e=e: ui.navigate.to(_search_link(e))).props(
                            "flat round dense"
                        )
                    ui.button(icon="delete", on_click=lambda e=e: self.delete(e["id"])).props(
                        "flat round dense color=negative"
                    ).mark(f"watch-delete-{e['id']}")

    async def add(self) -> None:
        try:
            await state.db(
                add_watch,
                name=self.name.value or "",
                pattern=self.pattern.value or "",
                mode=self.mode.value,
                max_edits=int(self.edits.value or 0),
                notes=self.notes.value or "",
            )
        except ValueError as exc:
            ui.notify(str(exc), type="negative")
            return
        for el in (self.name, self.pattern, self.notes):
            el.set_value("")
        await self.refresh()

    async def delete(self, entry_id: int) -> None:
        await state.db(delete_watch, entry_id=entry_id)
        await self.refresh()


class PlatesTable:
    def __init__(self) -> None:
        self.offset = 0
        with ui.row().classes("w-full items-center gap-2"):
            self.prefix = (
                ui.input("Plate starts with").props("dense outlined clearable").mark("plates-prefix")
            )
            self.order = ui.toggle(
                {"count": "Most seen", "last_seen": "Recent", "plate": "A–Z"}, value="count"
            )
            self.order.props("dense no-caps")
            ui.space()
            self.summary = ui.label("").classes("text-sm text-slate-500")
        columns = [
            {"name": "plate", "label": "Plate", "field": "plate", "align": "left"},
            {"name": "n", "label": "Seen", "field": "n"},
            {"name": "first", "label": "First seen (UTC)", "field": "first", "align": "left"},
            {"name": "last", "label": "Last seen (UTC)", "field": "last", "align": "left"},
            {"name": "where", "label": "Last place", "field": "where", "align": "left"},
            {"name": "watch", "label": "Watchlist", "field": "watch", "align": "left"},
        ]
        self.table = ui.table(columns=columns, rows=[], row_key="plate").props("flat bordered dense")
        self.table.classes("w-full cursor-pointer").mark("plates")
        self.table.on("rowClick", lambda e: ui.navigate.to(f"/?q={e.args[1]['plate']}%20~0"))
        with ui.row().classes("gap-2"):
            self.prev = ui.button("Previous", on_click=lambda: self.page(-1)).props("flat no-caps")
            self.next = ui.button("Next", on_click=lambda: self.page(1)).props("flat no-caps")
        self.prefix.on_value_change(lambda: self.page(0, reset=True))
        self.order.on_value_change(lambda: self.page(0, reset=True))
        ui.timer(0.01, lambda: self.page(0), once=True)

    async def page(self, step: int, *, reset: bool = False) -> None:
        self.offset = 0 if reset else max(0, self.offset + step * PAGE)
        page = await state.db(
            list_plates, prefix=self.prefix.value or "", order=self.order.value, offset=self.offset
        )
        self.table.rows = [
            {
                "plate": p.plate,
                "n": p.sightings,
                "first": fmt_time(p.first_seen),
                "last": fmt_time(p.last_seen),
                "where": fmt_place(p.last_lat, p.last_lon),
                "watch": ", ".join(p.watchlist),
            }
            for p in page.items
        ]
        self.table.update()
        end = self.offset + len(page.items)
        self.summary.set_text(f"{self.offset + 1 if page.items else 0}–{end} of {page.total} plates")
        self.prev.set_enabled(self.offset > 0)
        self.next.set_enabled(end < page.total)


def register() -> None:
    @ui.page("/plates")
    async def plates_page() -> None:
        with frame("Plates", active="Plates"):
            WatchlistCard()
            PlatesTable()
