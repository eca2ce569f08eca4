"""Accounts, login with a rate limit, and the middleware that keeps every page and medium behind a login.

Passwords are stored as argon2id hashes (argon2-cffi's defaults follow RFC 9106). A login is refused,
without checking the password, while the account or the client address has MAX_FAILURES failed attempts
in the last WINDOW: attempts live in the database, so restarting the server does not reset the count.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Literal
from urllib.parse import quote

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from nicegui import app
from sqlalchemy import func, or_, select
from sqlmodel import Session, col
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from dashcam.db.models import UiLoginAttempt, UiUser

log = logging.getLogger(__name__)
MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)
MIN_PASSWORD = 8
PUBLIC_PATHS = {"/login", "/setup"}
_hasher = PasswordHasher()
LoginResult = Literal["ok", "bad", "locked"]


class AccountError(ValueError):
    """A username or password that cannot be used."""


def _now() -> datetime:
    return datetime.now(timezone.utc)


def count_users(*, session: Session) -> int:
    return int(session.execute(select(func.count()).select_from(UiUser)).scalar_one())


def create_user(*, session: Session, username: str, password: str) -> UiUser:
    """A new account; refuses a taken name or a short password."""
    username = username.strip()
    if not username or len(username) > 64:
        raise AccountError("the username must have 1 to 64 characters")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")
    if session.execute(select(UiUser).where(col(UiUser.username) == username)).first():
        raise AccountError(f"user {username!r} exists already")
    user = UiUser.model_validate(
        {"username": username, "password_hash": _hasher.hash(password), "created_at": _now()}
    )
    session.add(user)
    session.flush()
    return user


def set_password(*, session: Session, username: str, password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")
    user = session.execute(select(UiUser).where(col(UiUser.username) == username)).scalar_one_or_none()
    if user is None:
        raise AccountError(f"no user {username!r}")
    user.password_hash = _hasher.hash(password)
    session.add(user)


def recent_failures(*, session: Session, username: str, remote: str) -> int:
    since = _now() - WINDOW
    return int(
        session.execute(
            select(func.count())
            .select_from(UiLoginAttempt)
            .where(
                col(UiLoginAttempt.at) >= since,
                col(UiLoginAttempt.ok).is_(False),
                or_(col(UiLoginAttempt.username) == username, col(UiLoginAttempt.remote) == remote),
            )
        ).scalar_one()
    )


def check_login(*, session: Session, username: str, password: str, remote: str) -> LoginResult:
    """Verify a login and record the attempt; "locked" while too many recent attempts failed."""
    username, remote = username.strip()[:64], remote[:64]
    if recent_failures(session=session, username=username, remote=remote) >= MAX_FAILURES:
        log.warning("login refused for %r from %s: too many failed attempts", username, remote)
        return "locked"
    user = session.execute(select(UiUser).where(col(UiUser.username) == username)).scalar_one_or_none()
    ok = False
    if user is not None:
        try:
            ok = _hasher.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            ok = False
    else:
        _hasher.hash(password)  # the same work as a real check: no timing hint that the name is unknown
    session.add(
        UiLoginAttempt.model_validate({"at": _now(), "username": username, "remote": remote, "ok": ok})
    )
    if ok and user is not None:
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = _hasher.hash(password)
        user.last_login_at = _now()
        session.add(user)
    return "ok" if ok else "bad"


def current_user() -> str | None:
    """The logged-in username of this browser, if any."""
    name = app.storage.user.get("username")
    return name if isinstance(name, str) else None


def is_public(path: str) -> bool:
    """No session needed: the login pages, NiceGUI's assets, and the REST API (it has its own bearer tokens)."""
    return (
        path in PUBLIC_PATHS
        or path.startswith(("/_nicegui/", "/api/v1/"))
        or path in ("/favicon.ico", "/api/v1")
    )


class AuthMiddleware(BaseHTTPMiddleware):
    """Pages redirect to the login; media and downloads answer 401 without a session."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        path = request.url.path
        if not is_public(path) and current_user() is None:
            if path.startswith(("/media/", "/download/", "/gpx/", "/api/")):
                return JSONResponse({"detail": "login required"}, status_code=401)
            target = path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?redirect_to={quote(target, safe='')}")
        return await call_next(request)


def safe_redirect(target: str | None) -> str:
    """Only local paths: a login must never send the browser to another site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
