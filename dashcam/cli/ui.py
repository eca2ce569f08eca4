"""`dashcam ui`: the web UI (login required), and `--create-user` to make an account."""

from __future__ import annotations

import os

import typer

from dashcam.cli.common import console, fail

PASSWORD_ENV = "DASHCAM_UI_PASSWORD"


def ui(
    host: str | None = typer.Option(None, "--host", help="Address to bind (default: webui.host, 127.0.0.1)."),
    port: int | None = typer.Option(
        None, "--port", min=1, max=65535, help="Port (default: webui.port, 8000)."
    ),
    create_user: str | None = typer.Option(
        None,
        "--create-user",
        metavar="NAME",
        help=f"Create an account (password from a prompt, or {PASSWORD_ENV} for scripts) and exit.",
    ),
    reset_password: bool = typer.Option(
        False, "--reset-password", help="With --create-user NAME: set a new password for an existing account."
    ),
) -> None:
    """Serve the web UI: search, map, sightings, plates and watchlist, timeline, pipeline status."""
    from sqlalchemy.exc import SQLAlchemyError

    from dashcam.config import ConfigError, load_config
    from dashcam.settings import SettingsError, get_settings

    try:
        config = load_config()
    except ConfigError as exc:
        fail(f"{exc.problems[0]} (run `dashcam config validate`)")
    if create_user is not None:
        _create_user(config, create_user, reset=reset_password)
        return
    try:
        get_settings().require_secret_key()
    except SettingsError as exc:
        fail(str(exc))
    from webui.main import start

    try:
        start(host, port, config=config)
    except SQLAlchemyError as exc:
        fail(f"database: {type(exc).__name__}: {str(exc).splitlines()[0]}")


def _create_user(config: object, name: str, *, reset: bool) -> None:
    from dashcam.db.session import ensure_schema, get_engine, session_scope
    from webui.auth import AccountError, create_user, set_password

    password = os.environ.get(PASSWORD_ENV) or typer.prompt(
        f"Password for {name}", hide_input=True, confirmation_prompt=True
    )
    url = config.database_url()  # type: ignore[attr-defined]
    ensure_schema(url)
    try:
        with session_scope(get_engine(url=url)) as session:
            if reset:
                set_password(session=session, username=name, password=password)
            else:
                create_user(session=session, username=name, password=password)
    except AccountError as exc:
        fail(str(exc))
    console.print(f"{'password set for' if reset else 'created user'} {name}", highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    app.command("ui")(ui)
