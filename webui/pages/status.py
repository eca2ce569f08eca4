"""Status: Prefect pools, workers and runs; clips waiting per stage; storage per area. Refreshed live."""

from __future__ import annotations

import shutil
from typing import Any

from nicegui import run, ui
from sqlalchemy import func, select
from sqlmodel import Session, col

from dashcam.db.models import Media, StageRun
from dashcam.storage import AREAS
from webui import state
from webui.prefect_status import PrefectStatus, RunInfo, read_status
from webui.theme import fmt_time, frame

REFRESH_S = 10.0


def stage_counts(*, session: Session) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for stage, status, n in session.execute(
        select(col(StageRun.stage), col(StageRun.status), func.count()).group_by(
            col(StageRun.stage), col(StageRun.status)
        )
    ):
        out.setdefault(stage, {})[status] = int(n)
    return out


def storage_use(*, session: Session) -> list[dict[str, Any]]:
    media = dict(
        session.execute(select(col(Media.area), func.sum(col(Media.size_bytes))).group_by(col(Media.area)))
        .tuples()
        .all()
    )
    storage = state.get().storage
    rows = []
    for name in AREAS:
        area = storage[name]
        row: dict[str, Any] = {"area": name, "where": str(area.root), "media": _size(media.get(name) or 0)}
        if area.is_local:
            try:
                du = shutil.disk_usage(area.root)
                row.update(used=_size(du.used), free=_size(du.free), pct=round(100 * du.used / du.total, 1))
            except OSError:
                row.update(used="—", free="not mounted", pct=None)
        else:
            row.update(used="—", free="remote", pct=None)
        rows.append(row)
    return rows


def encryption_state() -> dict[str, str]:
    from dashcam.crypt.keys import describe

    return describe(state.get().config)


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


class StatusView:
    def __init__(self) -> None:
        st = state.get()
        self.ui_url = (st.prefect_ui_url or "").rstrip("/")
        with ui.row().classes("w-full items-center"):
            ui.label("Pipeline").classes("text-xl font-medium")
            ui.space()
            self.stamp = ui.label("").classes("text-xs text-slate-500")
            if self.ui_url:
                ui.link("Open the Prefect UI", self.ui_url, new_tab=True).classes("text-sm")
        self.prefect = ui.column().classes("w-full gap-2").mark("status-prefect")
        with ui.row().classes("w-full gap-4 items-start"):
            self.stages = ui.card().classes("flex-grow p-4").mark("status-stages")
            self.storage = ui.card().classes("flex-grow p-4").mark("status-storage")
            with ui.card().classes("p-4").mark("status-encryption"):
                ui.label("Encryption at rest").classes("font-medium")
                # whether each part is on and where its key comes from: never a key
                for part, said in encryption_state().items():
                    ui.label(f"{part}: {said}").classes("text-sm")
        ui.timer(0.01, self.refresh, once=True)
        ui.timer(REFRESH_S, self.refresh)

    async def refresh(self) -> None:
        prefect = await run.io_bound(read_status, state.get().prefect_api_url)
        if prefect is None:  # cancelled, or the app is shutting down
            return
        counts = await state.db(stage_counts)
        areas = await state.db(storage_use)
        self._prefect(prefect)
        self.stages.clear()
        with self.stages:
            ui.label("Clips per stage").classes("font-medium")
            rows = [
                {"stage": s, **{k: c.get(k, 0) for k in ("queued", "running", "done", "failed", "skipped")}}
                for s, c in sorted(counts.items())
            ]
            cols = [
                {"name": k, "label": k, "field": k, "align": "left" if k == "stage" else "right"}
                for k in ("stage", "queued", "running", "done", "failed", "skipped")
            ]
            ui.table(columns=cols, rows=rows, row_key="stage").props("flat dense").classes("w-full").mark(
                "stage-counts"
            )
            if not rows:
                ui.label("No stage has run yet.").classes("text-sm text-slate-500")
        self.storage.clear()
        with self.storage:
            ui.label("Storage").classes("font-medium")
            for a in areas:
                with ui.row().classes("w-full items-center gap-2 no-wrap"):
                    ui.label(a["area"]).classes("w-28 font-mono text-sm")
                    if a["pct"] is not None:
                        ui.linear_progress(a["pct"] / 100, show_value=False, size="10px").classes(
                            "w-40"
                        ).props("color=" + ("negative" if a["pct"] > 90 else "primary"))
                    ui.label(f"{a['used']} used · {a['free']} free · media {a['media']}").classes(
                        "text-xs text-slate-500"
                    )
        self.stamp.set_text("updated " + fmt_time(__import__("datetime").datetime.now()))

    def _link(self, r: RunInfo) -> None:
        if self.ui_url:
            ui.link(r.name, f"{self.ui_url}/runs/flow-run/{r.id}", new_tab=True).classes("font-mono text-sm")
        else:
            ui.label(r.name).classes("font-mono text-sm")

    def _prefect(self, p: PrefectStatus) -> None:
        self.prefect.clear()
        with self.prefect:
            if not p.ok:
                with ui.card().classes("w-full p-3 bg-slate-100"):
                    ui.label(p.error or "Prefect status unavailable.").classes("text-sm").mark(
                        "prefect-error"
                    )
                return
            with ui.row().classes("gap-3"):
                for name, kind, online, total in p.pools:
                    with ui.card().classes("p-3 gap-0"):
                        ui.label(name).classes("font-medium")
                        color = "text-green-700" if online else "text-red-700"
                        ui.label(f"{kind} · {online}/{total} workers online").classes(f"text-xs {color}")
            for title, runs in (("Runs in flight", p.in_flight), ("Late or failed", p.late_or_failed)):
                ui.label(f"{title} ({len(runs)})").classes("font-medium mt-2")
                for r in runs:
                    with ui.row().classes("items-center gap-2"):
                        ui.badge(r.state, color="negative" if r.state in ("Failed", "Crashed") else "primary")
                        self._link(r)
                        ui.label(f"{r.flow} · {fmt_time(r.when)}").classes("text-xs text-slate-500")
                        if r.reason:
                            ui.label(r.reason[:200]).classes("text-xs text-red-700")


def register() -> None:
    @ui.page("/status")
    async def status_page() -> None:
        with frame("Status", active="Status"):
            StatusView()
