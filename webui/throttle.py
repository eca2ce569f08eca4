"""Login throttling for the login form and ``POST /api/v1/auth/token``: a growing delay, never a lock-out.

Failed attempts live in ``ui_login_attempt`` (a restart does not reset them). Two counts over WINDOW:

- per (account, client address): after FREE_PER_ACCOUNT failures each further try must wait 1 s, 2 s,
  4 s ... (at most MAX_DELAY) after the last failure. A stranger at another address never delays the
  owner: their failures count against their own address only.
- per client address, any account or device key: the same rule after FREE_PER_ADDRESS failures, so one
  address cannot spray passwords over many account names.

While a delay runs the attempt is refused before any password or key is checked, and nothing is
written: a flood costs one indexed count per request. The client address is the socket's peer, or
X-Forwarded-For's entry from a proxy named in ``webui.trusted_proxies`` (uvicorn applies that list).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select
from sqlmodel import Session, col

from dashcam.db.models import UiLoginAttempt

WINDOW = timedelta(minutes=15)
MAX_DELAY = WINDOW
FREE_PER_ACCOUNT = 5
FREE_PER_ADDRESS = 20
DEVICE_KEYS = ""
"""The "account" device-key attempts are counted under (no username is empty)."""


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _wait(failures: int, last: datetime | None, *, free: int, now: datetime) -> float:
    if failures < free or last is None:
        return 0.0
    delay = min(MAX_DELAY.total_seconds(), 2.0 ** (failures - free))
    return max(0.0, (_aware(last) + timedelta(seconds=delay) - now).total_seconds())


def _failures(session: Session, since: datetime, *where: object) -> tuple[int, datetime | None]:
    n, last = session.execute(
        select(func.count(), func.max(col(UiLoginAttempt.at))).where(
            col(UiLoginAttempt.at) >= since, col(UiLoginAttempt.ok).is_(False), *where
        )
    ).one()
    return int(n), last


def retry_after(*, session: Session, username: str, remote: str, now: datetime | None = None) -> int:
    """Whole seconds this (account, address) must wait before its next attempt is checked; 0: go ahead."""
    now = now or _now()
    since = now - WINDOW
    per_address = _wait(
        *_failures(session, since, col(UiLoginAttempt.remote) == remote), free=FREE_PER_ADDRESS, now=now
    )
    per_account = _wait(
        *_failures(
            session,
            since,
            col(UiLoginAttempt.remote) == remote,
            col(UiLoginAttempt.username) == username,
        ),
        free=FREE_PER_ACCOUNT,
        now=now,
    )
    return math.ceil(max(per_address, per_account))


def record(*, session: Session, username: str, remote: str, ok: bool, now: datetime | None = None) -> None:
    """Remember one checked attempt."""
    session.add(
        UiLoginAttempt.model_validate(
            {"at": now or _now(), "username": username[:64], "remote": remote[:64], "ok": ok}
        )
    )
