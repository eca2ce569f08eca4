"""`dashcam ui`: the web UI (login required), and the accounts: --create-user, --list-users, --delete-user."""

from __future__ import annotations

import os

import typer

from dashcam.cli.common import JsonOpt, console, fail, print_json, warn

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
        False,
        "--reset-password",
        help="With --create-user NAME: set a new password for an existing account (its sessions and tokens end).",
    ),
    delete_user: str | None = typer.Option(
        None,
        "--delete-user",
        metavar="NAME",
        help="Delete an account (its sessions and tokens end) and exit.",
    ),
    list_users: bool = typer.Option(False, "--list-users", help="List the accounts and exit."),
    json_out: bool = JsonOpt,
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
    if delete_user is not None or list_users:
        _accounts(config, delete_user, json_out=json_out)
        return
    try:
        get_settings().require_secret_key()
    except SettingsError as exc:
        fail(str(exc))
    bind = host or config.global_config.webui.host
    if not _is_loopback(bind):
        warn(
            f"binding {bind}, not loopback: the UI and API then speak plain HTTP to the network. "
            "Keep the default 127.0.0.1 and serve the LAN through the TLS proxy of infra/nginx/dashcam.conf "
            "(with webui.trusted_proxies set to it)."
        )
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
    ensure_schema(url, config=config)  # type: ignore[arg-type]
    try:
        with session_scope(get_engine(config, url=url)) as session:  # type: ignore[arg-type]
            if reset:
                set_password(session=session, username=name, password=password)
            else:
                create_user(session=session, username=name, password=password)
    except AccountError as exc:
        fail(str(exc))
    console.print(f"{'password set for' if reset else 'created user'} {name}", markup=False, highlight=False)


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def _accounts(config: object, delete: str | None, *, json_out: bool) -> None:
    from dashcam.db.session import ensure_schema, get_engine, session_scope
    from webui.auth import AccountError, delete_user, list_users

    url = config.database_url()  # type: ignore[attr-defined]
    ensure_schema(url, config=config)  # type: ignore[arg-type]
    try:
        with session_scope(get_engine(config, url=url)) as session:  # type: ignore[arg-type]
            if delete is not None:
                delete_user(session=session, username=delete)
                rows = []
            else:
                rows = [
                    {"username": u.username, "created_at": u.created_at, "last_login_at": u.last_login_at}
                    for u in list_users(session=session)
                ]
    except AccountError as exc:
        fail(str(exc))
    if delete is not None:
        if json_out:
            print_json({"deleted": delete})
        else:
            console.print(f"deleted user {delete}", markup=False, highlight=False)
        return
    if json_out:
        print_json(rows)
        return
    for r in rows:
        last = f"{r['last_login_at']:%Y-%m-%d %H:%M}" if r["last_login_at"] else "never"
        console.print(
            f"{r['username']}  created {r['created_at']:%Y-%m-%d %H:%M}  last login {last}",
            markup=False,
            highlight=False,
        )
    if not rows:
        console.print("no accounts (the first visit to the UI offers to create one)", markup=False)


def register(app: typer.Typer) -> None:
    app.command("ui")(ui)
