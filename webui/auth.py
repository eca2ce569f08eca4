"""Accounts, login with throttling, and the middleware that keeps every page and medium behind a login.

Passwords are stored as argon2id hashes (argon2-cffi's defaults follow RFC 9106). Failed logins slow
down the next try from the same address (:mod:`webui.throttle`); they never lock the owner out.

A UI session remembers the account's id and generation, and both are checked against the ``ui_user``
row on every request: deleting the account or resetting its password (which raises the generation) ends
every session and API token it had, at once.
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal
from urllib.parse import quote, urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from nicegui import app, run
from sqlalchemy import delete, func, insert, literal, select, text
from sqlmodel import Session, col
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from dashcam.db.models import UiUser
from webui import throttle

log = logging.getLogger(__name__)
MIN_PASSWORD = 8
PUBLIC_PATHS = {"/login", "/setup"}
_hasher = PasswordHasher()
LoginResult = Literal["ok", "bad", "locked"]


@dataclass(frozen=True)
class Login:
    """What a login attempt came to; ``retry_after`` (seconds) when it was refused unchecked."""

    result: LoginResult
    retry_after: int = 0
    user_id: int | None = None
    generation: int = 0


class AccountError(ValueError):
    """A username or password that cannot be used."""


def _now() -> datetime:
    return datetime.now(timezone.utc)


def count_users(*, session: Session) -> int:
    return int(session.execute(select(func.count()).select_from(UiUser)).scalar_one())


def _checked(username: str, password: str) -> str:
    username = username.strip()
    if not username or len(username) > 64:
        raise AccountError("the username must have 1 to 64 characters")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")
    return username


def create_user(*, session: Session, username: str, password: str) -> UiUser:
    """A new account; refuses a taken name or a short password."""
    username = _checked(username, password)
    if session.execute(select(UiUser).where(col(UiUser.username) == username)).first():
        raise AccountError(f"user {username!r} exists already")
    user = UiUser.model_validate(
        {"username": username, "password_hash": _hasher.hash(password), "created_at": _now()}
    )
    session.add(user)
    session.flush()
    return user


def create_first_user(*, session: Session, username: str, password: str) -> Login:
    """The first account, only while none exists: one INSERT ... WHERE NOT EXISTS, whoever else is creating one.

    A /setup page opened before the admin made an account from the CLI must not add a second one.
    PostgreSQL's READ COMMITTED would let two such statements both see an empty table, so it takes the
    table's write lock first; SQLite runs one writer at a time anyway.
    """
    username = _checked(username, password)
    if session.connection().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE ui_user IN SHARE ROW EXCLUSIVE MODE"))
    exists = select(literal(1)).select_from(UiUser).exists()
    stmt = insert(UiUser).from_select(
        ["username", "password_hash", "created_at", "generation"],
        select(literal(username), literal(_hasher.hash(password)), literal(_now()), literal(0)).where(
            ~exists
        ),
    )
    if session.execute(stmt).rowcount != 1:
        raise AccountError("an account exists already: log in, or ask its owner for one")
    uid = session.execute(select(col(UiUser.id)).where(col(UiUser.username) == username)).scalar_one()
    return Login("ok", user_id=uid, generation=0)


def set_password(*, session: Session, username: str, password: str) -> None:
    """A new password; the account's generation goes up, so its older sessions and tokens end."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")
    user = session.execute(select(UiUser).where(col(UiUser.username) == username)).scalar_one_or_none()
    if user is None:
        raise AccountError(f"no user {username!r}")
    user.password_hash = _hasher.hash(password)
    user.generation += 1
    session.add(user)


def delete_user(*, session: Session, username: str) -> None:
    """Remove an account: its sessions and tokens stop working at their next request."""
    gone = session.execute(delete(UiUser).where(col(UiUser.username) == username)).rowcount
    if not gone:
        raise AccountError(f"no user {username!r}")


def list_users(*, session: Session) -> list[UiUser]:
    return list(session.execute(select(UiUser).order_by(col(UiUser.username))).scalars())


def is_current(*, session: Session, user_id: int, username: str, generation: int) -> bool:
    """True while the account still exists under that name and its password was not reset since."""
    row = session.get(UiUser, user_id)
    return row is not None and row.username == username and row.generation == generation


def check_login(*, session: Session, username: str, password: str, remote: str) -> Login:
    """Verify a login and record it; "locked" (with the seconds to wait) while the throttle holds it back."""
    username, remote = username.strip()[:64], remote[:64]
    wait = throttle.retry_after(session=session, username=username, remote=remote)
    if wait:
        log.warning("login for %r from %s held back %d s after failed attempts", username, remote, wait)
        return Login("locked", retry_after=wait)
    user = session.execute(select(UiUser).where(col(UiUser.username) == username)).scalar_one_or_none()
    ok = False
    if user is not None:
        try:
            ok = _hasher.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            ok = False
    else:
        _hasher.hash(password)  # the same work as a real check: no timing hint that the name is unknown
    throttle.record(session=session, username=username, remote=remote, ok=ok)
    if not ok or user is None:
        return Login("bad")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.last_login_at = _now()
    session.add(user)
    return Login("ok", user_id=user.id, generation=user.generation)


def sign_in(username: str, login: Login) -> None:
    """Remember the account in this browser's session."""
    app.storage.user.update({"username": username.strip(), "uid": login.user_id, "gen": login.generation})


def current_user() -> str | None:
    """The logged-in username of this browser, if any."""
    name = app.storage.user.get("username")
    return name if isinstance(name, str) else None


def is_public(path: str) -> bool:
    """No session needed: the login pages, NiceGUI's assets, the REST API (it has its own bearer tokens) and
    /metrics (this host, or an API key: webui.api.metrics)."""
    return (
        path in PUBLIC_PATHS
        or path == "/metrics"
        or path.startswith(("/_nicegui/", "/api/v1/"))
        or path in ("/favicon.ico", "/api/v1")
    )


def session_identity() -> tuple[int, str, int] | None:
    """(user id, name, generation) this browser's session claims, if it claims one."""
    data = app.storage.user
    uid, name, gen = data.get("uid"), data.get("username"), data.get("gen", 0)
    if isinstance(uid, int) and isinstance(name, str) and isinstance(gen, int):
        return uid, name, gen
    return None


async def session_is_current() -> bool:
    """The session's account still exists with the same generation (checked in the database, off the loop)."""
    from webui import state

    found = session_identity()
    if found is None:
        return False
    uid, name, gen = found
    return await run.io_bound(state.in_session, is_current, user_id=uid, username=name, generation=gen)


class AuthMiddleware(BaseHTTPMiddleware):
    """Pages redirect to the login; media and downloads answer 401 without a current session."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        path = request.url.path
        if not is_public(path) and not await session_is_current():
            if app.storage.user.get("username"):
                app.storage.user.clear()  # deleted, reset, or from before sessions named their account
            if path.startswith(("/media/", "/download/", "/gpx/", "/api/")):
                return JSONResponse({"detail": "login required"}, status_code=401)
            target = path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?redirect_to={quote(target, safe='')}")
        return await call_next(request)


def _strip_like_a_browser(target: str) -> str:
    """What a browser's URL parser keeps: C0 controls and spaces trimmed at both ends, tabs and newlines gone."""
    target = "".join(c for c in target if c not in "\t\n\r")
    return target.strip("".join(chr(i) for i in range(0x21)))


def safe_redirect(target: str | None) -> str:
    """A path on this site to go to after the login, or "/": never another site, however it is spelled.

    The target is cleaned the way a browser cleans a URL before parsing it (slash, tab, slash, host is
    ``//host`` to a browser: another site), then it must parse as a bare path: no scheme, no host, no
    backslash (browsers read it as a slash), no control or odd Unicode characters.
    """
    if not target:
        return "/"
    cleaned = _strip_like_a_browser(target)
    if (
        not cleaned.startswith("/")
        or cleaned.startswith("//")
        or "\\" in cleaned
        or any(unicodedata.category(c)[0] in "CZ" and c != " " for c in cleaned)
    ):
        return "/"
    parts = urlsplit(cleaned)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith("//"):
        return "/"
    return cleaned
