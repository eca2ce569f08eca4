"""The shell every page shares: header with navigation, the user's menu, and watchlist notices."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from nicegui import app, ui

from webui import auth, watch

NAV = [
    ("Search", "/", "search"),
    ("Map", "/map", "map"),
    ("Plates", "/plates", "pin"),
    ("Timeline", "/timeline", "calendar_month"),
    ("Status", "/status", "monitor_heart"),
]
ACCENT = "#0f766e"
SESSION_CHECK_S = 10.0
"""How often an open page checks that its account still exists and its password was not reset."""


def apply_colors() -> None:
    ui.colors(primary=ACCENT, secondary="#334155", accent="#f59e0b")
    ui.query("body").classes("bg-slate-50")


@contextmanager
def frame(title: str, *, active: str = "") -> Iterator[ui.column]:
    """The page shell; yields the content column."""
    apply_colors()
    ui.page_title(f"{title} · Dashcam")
    with ui.header(elevated=True).classes("items-center gap-2 px-4 py-1 bg-slate-900"):
        with ui.link(target="/").classes("no-underline text-white flex items-center gap-2 mr-4"):
            ui.icon("videocam", size="sm").classes("text-amber-400")
            ui.label("Dashcam").classes("text-lg font-semibold tracking-tight")
        for name, path, icon in NAV:
            classes = "text-white" + (" bg-teal-700" if name == active else "")
            ui.button(name, icon=icon, on_click=lambda p=path: ui.navigate.to(p)).props(
                "flat no-caps dense"
            ).classes(classes + " px-2").mark(f"nav-{name.lower()}")
        ui.space()
        user = auth.current_user()
        if user:
            with (
                ui.button(icon="account_circle").props("flat round color=white").mark("user-menu"),
                ui.menu(),
            ):
                ui.menu_item(f"Signed in as {user}").props("disable")
                ui.menu_item("Log out", on_click=logout).mark("logout")
    with ui.column().classes("w-full max-w-7xl mx-auto p-4 gap-4") as content:
        yield content
    if user:
        ui.timer(0.1, watch.notify_new, once=True)
        ui.timer(60.0, watch.notify_new)
        ui.timer(SESSION_CHECK_S, _end_if_revoked)


async def _end_if_revoked() -> None:
    """An open tab outlives the page request: leave it once the account is deleted or its password reset."""
    if not await auth.session_is_current():
        app.storage.user.clear()
        ui.navigate.to("/login")


def logout() -> None:
    app.storage.user.clear()
    ui.navigate.to("/login")


def fmt_time(value: object) -> str:
    from datetime import datetime

    return value.strftime("%Y-%m-%d %H:%M:%S") if isinstance(value, datetime) else "—"


def fmt_local(when: object, offset_s: int | None) -> str:
    """A time on the clip's own clock, with its offset from UTC: ``2024-05-18 00:30:05 +02:00``."""
    from datetime import datetime

    from dashcam.localtime import local_display

    return local_display(when, offset_s) if isinstance(when, datetime) else "—"


def fmt_place(lat: float | None, lon: float | None) -> str:
    return f"{lat:.5f}, {lon:.5f}" if lat is not None and lon is not None else "no GPS"
