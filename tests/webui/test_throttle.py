"""The login throttle's arithmetic on a real database, with the clock passed in (no waiting)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import Session

from dashcam.db.session import make_engine, session_scope, upgrade
from webui import throttle

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def session(db_url: str) -> Iterator[Session]:
    upgrade(db_url)
    engine = make_engine(db_url)
    with session_scope(engine) as s:
        yield s
    engine.dispose()


def _fail(s: Session, n: int, *, user: str = "alice", remote: str = "10.0.0.1", at: datetime = T0) -> None:
    for i in range(n):
        throttle.record(session=s, username=user, remote=remote, ok=False, now=at + timedelta(seconds=i))
    s.flush()


def _wait(s: Session, *, user: str = "alice", remote: str = "10.0.0.1", at: datetime) -> int:
    return throttle.retry_after(session=s, username=user, remote=remote, now=at)


def test_the_delay_grows_after_the_free_failures_and_is_capped(session: Session) -> None:
    last = T0 + timedelta(seconds=throttle.FREE_PER_ACCOUNT - 1)
    _fail(session, throttle.FREE_PER_ACCOUNT - 1)
    assert _wait(session, at=last) == 0
    _fail(session, 1, at=last)
    assert _wait(session, at=last) == 1  # 2^0 s after the last failure
    _fail(session, 1, at=last + timedelta(seconds=1))
    assert _wait(session, at=last + timedelta(seconds=1)) == 2
    _fail(session, 3, at=last + timedelta(seconds=3))  # 9 failures, the last at last + 5 s
    assert _wait(session, at=last + timedelta(seconds=5)) == 16  # 2^(9 - 5)
    _fail(session, 30, at=last + timedelta(seconds=10))
    assert _wait(session, at=last + timedelta(seconds=39)) == throttle.MAX_DELAY.total_seconds()


def test_only_the_same_account_from_the_same_address_is_held(session: Session) -> None:
    _fail(session, throttle.FREE_PER_ACCOUNT)
    at = T0 + timedelta(seconds=throttle.FREE_PER_ACCOUNT - 1)  # at the last failure
    assert _wait(session, at=at) > 0
    assert _wait(session, remote="10.0.0.2", at=at) == 0  # the owner, elsewhere
    assert _wait(session, user="bob", at=at) == 0  # another account from the stranger's address


def test_one_address_spraying_many_accounts_is_held(session: Session) -> None:
    for i in range(throttle.FREE_PER_ADDRESS):
        _fail(session, 1, user=f"user{i}", at=T0 + timedelta(seconds=i))
    at = T0 + timedelta(seconds=throttle.FREE_PER_ADDRESS - 1)
    assert _wait(session, user="someone-new", at=at) > 0
    assert _wait(session, user="someone-new", remote="10.0.0.2", at=at) == 0


def test_failures_older_than_the_window_are_forgotten(session: Session) -> None:
    _fail(session, 10)
    assert _wait(session, at=T0 + timedelta(seconds=12)) > 0
    assert _wait(session, at=T0 + throttle.WINDOW + timedelta(seconds=10)) == 0
