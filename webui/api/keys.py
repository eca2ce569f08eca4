"""Device API keys: ``dk_<key_id>_<secret>``, shown once; only a hash and the key id are stored.

The key id is public (it names the key in ``dashcam api-key list`` and finds its row); the secret part
carries 256 bits, so guessing is hopeless and a slow hash gains nothing: a stolen database cannot be
brute-forced either way. Keys are stored as ``hmac-sha256$<hex>`` (HMAC-SHA256 under a fixed label, so
keys survive a change of DASHCAM_SECRET_KEY) and compared with ``hmac.compare_digest``. A slow argon2id
hash (64 MiB per check) let anyone with no account spend the server's memory and CPU per request.

Keys issued before that kept an argon2id hash: they still verify, and the first successful use
rewrites the stored hash in the new form (only the holder of the key can trigger that argon2 check).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlmodel import Session, col

from dashcam.db.models import ApiKey

PREFIX = "dk"
SCHEME = "hmac-sha256$"
_LABEL = b"dashcam-processor device api key v2"
_legacy = PasswordHasher()


def key_hash(key: str) -> str:
    """The stored form of a key."""
    return SCHEME + hmac.new(_LABEL, key.encode(), hashlib.sha256).hexdigest()


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
    session.add(ApiKey(device=device, key_id=key_id, key_hash=key_hash(key), created_at=_now()))
    session.flush()
    return key_id, key


def verify_key(*, session: Session, key: str) -> ApiKey | None:
    """The live key row ``key`` belongs to, or None (unknown, revoked or wrong secret)."""
    key = key.strip()
    given = key_hash(key)  # computed for every request alike: no timing hint about which key ids exist
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1]:
        return None
    row = session.execute(select(ApiKey).where(col(ApiKey.key_id) == parts[1][:16])).scalar_one_or_none()
    if row is None or row.revoked_at is not None:
        return None
    if row.key_hash.startswith(SCHEME):
        return row if hmac.compare_digest(row.key_hash.encode(), given.encode()) else None
    try:  # an argon2id hash from before: verify once, then store the new form
        _legacy.verify(row.key_hash, key)
    except (VerificationError, InvalidHashError):
        return None
    row.key_hash = given
    session.add(row)
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
