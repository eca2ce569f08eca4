"""Bearer tokens of the REST API: HS256 JWTs signed with a key derived from DASHCAM_SECRET_KEY.

Claims: ``sub`` (``user:<name>`` or ``device:<hostname>``), ``scope`` (``read`` for users, ``heartbeat``
for device keys), ``iat``, ``exp``; for users ``uid`` and ``gen`` (the account's id and generation), for
devices ``kid`` (the API key). A signature alone is not enough: every request checks the account still
exists with that generation (a deletion or a password reset ends its tokens), or that the key is not
revoked. Tokens live DASHCAM_API_TOKEN_TTL_S seconds (default 3600). A missing, forged, expired or
revoked token is refused with 401; a valid token of the wrong scope with 403.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any, Literal

import jwt
from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from dashcam.settings import get_settings, read_env

Scope = Literal["read", "heartbeat"]
ALGORITHM = "HS256"
_bearer = HTTPBearer(auto_error=False, description="a token from POST /api/v1/auth/token")


class ErrorOut(BaseModel):
    """An error: what went wrong, in one line."""

    detail: str


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "no token, or a forged or expired one"},
    403: {"model": ErrorOut, "description": "a token of the wrong scope"},
}


@dataclass(frozen=True)
class Principal:
    """Who a valid token speaks for."""

    kind: Literal["user", "device"]
    name: str
    scope: Scope
    key_id: str | None = None
    user_id: int | None = None
    generation: int = 0


def clock() -> datetime:
    """Now, in UTC: a dependency, so tests can move time instead of waiting."""
    return datetime.now(timezone.utc)


def signing_key() -> bytes:
    """The tokens' HMAC key: derived from DASHCAM_SECRET_KEY, so it differs from the UI sessions' key and has 32 bytes."""
    secret = get_settings().require_secret_key().encode()
    return hmac.new(secret, b"dashcam-processor api tokens v1", hashlib.sha256).digest()


def token_ttl() -> timedelta:
    """How long a new token lives (DASHCAM_API_TOKEN_TTL_S, default one hour)."""
    return timedelta(seconds=read_env().api_token_ttl_s)


def issue_token(principal: Principal, *, now: datetime, ttl: timedelta | None = None) -> tuple[str, int]:
    """A signed token for ``principal`` and its lifetime in seconds."""
    ttl = ttl or token_ttl()
    claims: dict[str, Any] = {
        "sub": f"{principal.kind}:{principal.name}",
        "scope": principal.scope,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    if principal.key_id:
        claims["kid"] = principal.key_id
    if principal.kind == "user":
        claims["uid"] = principal.user_id
        claims["gen"] = principal.generation
    return jwt.encode(claims, signing_key(), algorithm=ALGORITHM), int(ttl.total_seconds())


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"})


def decode_token(token: str, *, now: datetime) -> Principal:
    """The principal of a valid token; raises 401 for anything else."""
    try:
        claims = jwt.decode(
            token,
            signing_key(),
            algorithms=[ALGORITHM],
            options={"require": ["exp", "iat", "sub", "scope"], "verify_exp": False},
        )
    except jwt.InvalidTokenError as exc:
        raise _unauthorized(f"invalid token: {exc}") from exc
    exp = claims.get("exp")
    if not isinstance(exp, int) or exp <= now.timestamp():  # checked against the injectable clock
        raise _unauthorized("token expired")
    kind, _, name = str(claims["sub"]).partition(":")
    scope = claims["scope"]
    if kind not in ("user", "device") or not name or scope not in ("read", "heartbeat"):
        raise _unauthorized("invalid token: bad subject or scope")
    if (kind == "user") != (scope == "read"):
        raise _unauthorized("invalid token: subject and scope disagree")
    kid, uid, gen = claims.get("kid"), claims.get("uid"), claims.get("gen")
    if kind == "user" and not (isinstance(uid, int) and isinstance(gen, int)):
        raise _unauthorized("invalid token: no account id")
    if kind == "device" and not isinstance(kid, str):
        raise _unauthorized("invalid token: no key id")
    return Principal(
        kind=kind,  # type: ignore[arg-type]
        name=name,
        scope=scope,
        key_id=kid if isinstance(kid, str) else None,
        user_id=uid if isinstance(uid, int) else None,
        generation=gen if isinstance(gen, int) else 0,
    )


def still_valid(principal: Principal) -> bool:
    """The account behind a user token still exists with the same generation; a device key is not revoked."""
    from webui import auth, state
    from webui.api import keys

    if principal.kind == "user":
        assert principal.user_id is not None
        return state.in_session(
            auth.is_current,
            user_id=principal.user_id,
            username=principal.name,
            generation=principal.generation,
        )
    return principal.key_id is not None and state.in_session(keys.is_live, key_id=principal.key_id)


def current_principal(
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    now: Annotated[datetime, Depends(clock)],
) -> Principal:
    """The caller behind the Authorization header, or 401."""
    if creds is None or creds.scheme.lower() != "bearer" or not creds.credentials:
        raise _unauthorized("a bearer token is required (POST /api/v1/auth/token)")
    principal = decode_token(creds.credentials, now=now)
    if not still_valid(principal):
        raise _unauthorized("token revoked: the account was deleted, its password reset, or the key revoked")
    return principal


def require(scope: Scope) -> Any:
    """A dependency accepting only tokens of ``scope`` (403 for the other scope)."""

    def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if principal.scope != scope:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"this endpoint needs a {scope!r} token")
        return principal

    return Depends(check)


Reader = Annotated[Principal, require("read")]
Now = Annotated[datetime, Depends(clock)]
