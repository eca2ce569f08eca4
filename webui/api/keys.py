"""Device API keys: ``dk_<key_id>_<secret>``, shown once; only an argon2id hash and the key id are stored.

The key id is public (it names the key in ``dashcam api-key list`` and finds its row); the secret part
carries 256 bits, so guessing is hopeless and the argon2 hash only guards a stolen database.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlmodel import Session, col

from dashcam.db.models import ApiKey

PREFIX = "dk"
_hasher = PasswordHasher()


@dataclass(frozen=True)
class KeyInfo:
    """What ``dashcam api-key list`` shows of a key (never the key)."""

    key_id: str
    device: str
    created_at: datetime | None
    revoked_at: datetime | None


def _now() -> datetime:
    return datetime.now(timezone.utc)


def create_key(*, session: Session, device: str) -> tuple[str, str]:
    """A new key for ``device``: (key_id, the full key, to be shown once)."""
    device = device.strip()
    if not device or len(device) > 255:
        raise ValueError("the device name must have 1 to 255 characters")
    key_id = secrets.token_hex(6)
    key = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    session.add(ApiKey(device=device, key_id=key_id, key_hash=_hasher.hash(key), created_at=_now()))
    session.flush()
    return key_id, key


def verify_key(*, session: Session, key: str) -> ApiKey | None:
    """The live key row ``key`` belongs to, or None (unknown, revoked or wrong secret)."""
    parts = key.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1]:
        return None
    row = session.execute(select(ApiKey).where(col(ApiKey.key_id) == parts[1][:16])).scalar_one_or_none()
    if row is None or row.revoked_at is not None:
        _hasher.hash(key)  # the same work as a real check: no timing hint about which keys exist
        return None
    try:
        _hasher.verify(row.key_hash, key.strip())
    except (VerificationError, InvalidHashError):
        return None
    return row


def is_live(*, session: Session, key_id: str) -> bool:
    """True while the key exists and is not revoked (tokens die with their key)."""
    row = session.execute(select(ApiKey).where(col(ApiKey.key_id) == key_id)).scalar_one_or_none()
    return row is not None and row.revoked_at is None


def list_keys(*, session: Session, device: str | None = None) -> list[KeyInfo]:
    """Every key (optionally of one device), oldest first."""
    stmt = select(ApiKey).order_by(col(ApiKey.id))
    if device:
        stmt = stmt.where(col(ApiKey.device) == device)
    return [
        KeyInfo(key_id=k.key_id, device=k.device, created_at=k.created_at, revoked_at=k.revoked_at)
        for k in session.execute(stmt).scalars()
    ]


def revoke_key(*, session: Session, key_id: str) -> bool:
    """Revoke a key by its id; False when there is no such live key."""
    row = session.execute(select(ApiKey).where(col(ApiKey.key_id) == key_id)).scalar_one_or_none()
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = _now()
    session.add(row)
    return True
