"""``POST /auth/token``: a user (the web UI's account) or a device key gets a JWT; failures are throttled.

Both kinds go through :mod:`webui.throttle` by client address: after a few failures the next try waits,
answered 429 with Retry-After before any password or key is checked.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlmodel import Session

from webui import auth as ui_auth
from webui import state, throttle
from webui.api import keys
from webui.api.security import ErrorOut, Now, Principal, issue_token

router = APIRouter(tags=["auth"])


class TokenRequest(BaseModel):
    """Either a web UI account (username and password) or a device's API key."""

    model_config = ConfigDict(extra="forbid")
    username: str | None = Field(default=None, max_length=64, description="web UI account (read access)")
    password: str | None = Field(default=None, max_length=1024)
    api_key: str | None = Field(
        default=None, max_length=256, description="a device key from `dashcam api-key create` (heartbeats)"
    )

    @model_validator(mode="after")
    def _one_kind(self) -> TokenRequest:
        user = self.username is not None or self.password is not None
        if user == (self.api_key is not None) or (user and (self.username is None or self.password is None)):
            raise ValueError("give either username and password, or api_key")
        return self


class TokenOut(BaseModel):
    """A bearer token for the Authorization header."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds the token stays valid")
    scope: Literal["read", "heartbeat"]


@router.post(
    "/auth/token",
    response_model=TokenOut,
    responses={
        401: {"model": ErrorOut, "description": "wrong credentials"},
        429: {
            "model": ErrorOut,
            "description": "too many failed attempts from this address: try again after Retry-After seconds",
            "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}},
        },
    },
)
def token(body: TokenRequest, request: Request, now: Now) -> TokenOut:
    """Exchange a username and password (scope ``read``) or a device API key (scope ``heartbeat``) for a JWT."""
    remote = request.client.host if request.client else "?"
    if body.api_key is not None:
        row, wait = state.in_session(_check_key, key=body.api_key, remote=remote)
        if wait:
            raise _too_many(wait)
        if row is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown or revoked API key")
        principal = Principal(kind="device", name=row.device, scope="heartbeat", key_id=row.key_id)
    else:
        assert body.username is not None and body.password is not None
        login = state.in_session(
            ui_auth.check_login, username=body.username, password=body.password, remote=remote
        )
        if login.result == "locked":
            raise _too_many(login.retry_after)
        if login.result != "ok":
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password")
        principal = Principal(
            kind="user",
            name=body.username.strip(),
            scope="read",
            user_id=login.user_id,
            generation=login.generation,
        )
    jwt_, ttl = issue_token(principal, now=now)
    return TokenOut(access_token=jwt_, expires_in=ttl, scope=principal.scope)


def _too_many(wait: int) -> HTTPException:
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS,
        f"too many failed attempts from this address: try again in {wait} s",
        headers={"Retry-After": str(wait)},
    )


def _check_key(*, session: Session, key: str, remote: str) -> tuple[Any, int]:
    """(the live key row or None, seconds to wait): a throttled address gets no key check at all."""
    wait = throttle.retry_after(session=session, username=throttle.DEVICE_KEYS, remote=remote)
    if wait:
        return None, wait
    row = keys.verify_key(session=session, key=key)
    throttle.record(session=session, username=throttle.DEVICE_KEYS, remote=remote, ok=row is not None)
    return row, 0
