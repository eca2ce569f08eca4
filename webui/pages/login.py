"""Login, and the first account on first start (only while no account exists)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from webui import auth, state
from webui.theme import apply_colors


def _remote(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _card(title: str) -> ui.card:
    apply_colors()
    ui.page_title(f"{title} · Dashcam")
    with ui.column().classes("absolute-center items-center gap-4"):
        with ui.row().classes("items-center gap-2"):
            ui.icon("videocam", size="lg").classes("text-teal-700")
            ui.label("Dashcam").classes("text-2xl font-semibold")
        card = ui.card().classes("w-80 p-6 gap-3")
    return card


def register() -> None:
    @ui.page("/login")
    async def login_page(request: Request, redirect_to: str = "/") -> RedirectResponse | None:
        if auth.current_user() and await auth.session_is_current():
            return RedirectResponse(auth.safe_redirect(redirect_to))
        if await state.db(auth.count_users) == 0:
            return RedirectResponse("/setup")
        remote = _remote(request)

        async def try_login() -> None:
            login = await state.db(
                auth.check_login, username=username.value or "", password=password.value or "", remote=remote
            )
            if login.result == "ok":
                auth.sign_in(username.value, login)
                ui.navigate.to(auth.safe_redirect(redirect_to))
            elif login.result == "locked":
                message.set_text(f"Too many failed attempts: try again in {login.retry_after} s.")
            else:
                message.set_text("Wrong username or password.")
                password.set_value("")

        with _card("Log in"):
            ui.label("Log in").classes("text-lg font-medium")
            username = ui.input("Username").props("autofocus outlined dense").mark("username")
            password = (
                ui.input("Password", password=True, password_toggle_button=True)
                .props("outlined dense")
                .mark("password")
                .on("keydown.enter", try_login)
            )
            message = ui.label("").classes("text-sm text-red-700").mark("login-message")
            ui.button("Log in", on_click=try_login).classes("w-full").mark("login")
        return None

    @ui.page("/setup")
    async def setup_page() -> RedirectResponse | None:
        if await state.db(auth.count_users) > 0:
            return RedirectResponse("/login")

        async def create() -> None:
            if password.value != again.value:
                message.set_text("The passwords differ.")
                return
            try:
                login = await state.db(
                    auth.create_first_user, username=username.value or "", password=password.value or ""
                )
            except auth.AccountError as exc:
                message.set_text(str(exc))
                return
            auth.sign_in(username.value, login)
            ui.navigate.to("/")

        with _card("First account"):
            ui.label("Create the first account").classes("text-lg font-medium")
            ui.label("No account exists yet. The first one is created here, once.").classes(
                "text-sm text-slate-500"
            )
            username = ui.input("Username").props("outlined dense").mark("username")
            password = ui.input("Password", password=True).props("outlined dense").mark("password")
            again = ui.input("Repeat password", password=True).props("outlined dense").mark("password2")
            message = ui.label("").classes("text-sm text-red-700").mark("setup-message")
            ui.button("Create account", on_click=create).classes("w-full").mark("create")
        return None
