"""Search (home): one box for plates, labels, dates and filter words; hits as a grid of cards."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from nicegui import ui
from pydantic import ValidationError

from dashcam.search import SearchPage, SearchQuery, search
from webui import state
from webui.components.cards import HitCard
from webui.querytext import parse
from webui.theme import frame

PAGE = 48
HELP = (
    "Type a plate (AB 12 CDE), a label (car, truck, person), a day (2024-05-01) or range "
    "(2024-05-01..2024-05-07), after:/before:, front/rear, event, protected, ~2 for two edits."
)


def _day(value: str, *, end: bool = False) -> datetime | None:
    try:
        d = date.fromisoformat(value)
    except ValueError:
        return None
    return datetime.combine(d + timedelta(days=1 if end else 0), time(), tzinfo=timezone.utc)


def _bbox(value: str) -> tuple[float, float, float, float] | None:
    try:
        s, w, n, e = (float(v) for v in value.split(","))
    except ValueError:
        return None
    return (s, w, n, e)


def run_search(*, session: Any, fields: dict[str, Any], offset: int) -> SearchPage:
    query = SearchQuery(**fields, limit=PAGE, offset=offset)
    return search(session=session, query=query, confusions=state.get().confusions)


class SearchView:
    """The controls, the understood-query chips, and the result grid with "show more"."""

    def __init__(self, q: str, bbox: str) -> None:
        self.offset = 0
        self.generation = 0  # a newer search makes the answers of older ones stale
        self.fields: dict[str, Any] = {}
        self.area = _bbox(bbox) if bbox else None
        with ui.card().classes("w-full p-4 gap-3"):
            with ui.row().classes("w-full items-center gap-2 no-wrap"):
                self.box = (
                    ui.input(placeholder="Plate, label, date … e.g. AB12CDE or car 2024-05-01", value=q)
                    .props("outlined clearable autofocus")
                    .classes("flex-grow text-lg")
                    .mark("search")
                    .on("keydown.enter", self.run)
                )
                self.box.tooltip(HELP)
                ui.button("Search", icon="search", on_click=self.run).props("unelevated").mark(
                    "search-button"
                )
            with ui.row().classes("w-full items-center gap-4 text-sm"):
                self.channel = (
                    ui.toggle({"": "All cameras", "F": "Front", "R": "Rear"}, value="")
                    .props("dense no-caps")
                    .mark("channel")
                )
                self.kept = ui.checkbox("Event / protected only").mark("protected")
                self.fuzzy = ui.select({0: "exact + OCR look-alikes", 1: "± 1 edit", 2: "± 2 edits"}, value=1)
                self.fuzzy.props("dense outlined options-dense").classes("w-48").mark("fuzzy")
                self.since = ui.input("From").props("dense outlined type=date").classes("w-40").mark("since")
                self.until = ui.input("To").props("dense outlined type=date").classes("w-40").mark("until")
                if self.area:
                    chip = ui.chip(
                        "in map area", icon="crop_free", removable=True, on_value_change=self._drop_area
                    ).mark("area-chip")
                    chip.props("color=teal-1")
                    self.area_chip = chip
            self.understood = ui.row().classes("gap-1 items-center min-h-6")
        self.summary = ui.label("").classes("text-sm text-slate-600").mark("summary")
        self.grid = (
            ui.element("div")
            .classes("w-full grid gap-4 grid-cols-1 sm:grid-cols-2 md:grid-cols-3 lg:grid-cols-4")
            .mark("results")
        )
        self.more = (
            ui.button("Show more", icon="expand_more", on_click=self.load_more)
            .props("flat no-caps")
            .classes("self-center")
            .mark("more")
        )
        self.more.set_visibility(False)
        for el in (self.channel, self.kept, self.fuzzy, self.since, self.until):
            el.on_value_change(self.run)
        ui.timer(0.01, self.run, once=True)

    def _drop_area(self) -> None:
        self.area = None
        ui.timer(0.01, self.run, once=True)

    def _collect(self) -> dict[str, Any] | None:
        parsed = parse(self.box.value or "")
        fields: dict[str, Any] = {"fuzzy": int(self.fuzzy.value or 0)}
        if self.channel.value:
            fields["channel"] = self.channel.value
        if self.kept.value:
            fields["protected_only"] = True
        if self.since.value and (d := _day(self.since.value)):
            fields["since"] = d
        if self.until.value and (d := _day(self.until.value, end=True)):
            fields["until"] = d
        if self.area:
            fields["bbox"] = self.area
        fields.update(parsed.fields)
        if "plate" not in fields:
            fields.pop("fuzzy")
        self.understood.clear()
        with self.understood:
            for chip in parsed.chips:
                ui.chip(chip).props("dense color=teal-1 text-color=teal-10")
            for err in parsed.errors:
                ui.chip(err, icon="help").props("dense color=red-1 text-color=red-10")
        return fields

    async def run(self) -> None:
        fields = self._collect()
        if fields is None:
            return
        self.fields, self.offset = fields, 0
        self.generation += 1
        await self._fetch(clear=True)

    async def load_more(self) -> None:
        self.offset += PAGE
        await self._fetch()

    async def _fetch(self, *, clear: bool = False) -> None:
        generation = self.generation
        try:
            page = await state.db(run_search, fields=self.fields, offset=self.offset)
        except ValidationError as exc:
            msg = exc.errors()[0]["msg"].removeprefix("Value error, ")
            self.summary.set_text(f"Cannot search: {msg}")
            self.more.set_visibility(False)
            return
        if generation != self.generation:
            return
        if clear:
            self.grid.clear()
        with self.grid:
            for hit in page.hits:
                HitCard(hit)
        shown = page.offset + len(page.hits)
        if shown == 0:
            self.summary.set_text("No sightings match.")
        else:
            total = f" of {page.total}" if page.total is not None else ""
            self.summary.set_text(f"{shown}{total} sightings")
        self.more.set_visibility(page.has_more)


def register() -> None:
    @ui.page("/")
    async def search_page(q: str = "", bbox: str = "") -> None:
        with frame("Search", active="Search"):
            SearchView(q, bbox)
