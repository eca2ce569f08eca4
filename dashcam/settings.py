"""Process settings read from the environment (``DASHCAM_*``).

Slow-changing, shared configuration lives in the config directory (see :mod:`dashcam.config`);
this module only holds what differs per process: where things are on this machine and secrets.
"""

from __future__ import annotations

import math
import os
import socket
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

# Every variable the project reads, with what it means: the README's table is generated from this.
ENV_VARS: dict[str, str] = {
    "DASHCAM_CONFIG_DIR": "config directory holding config.json and devices/*.json (default /etc/dashcam-processor)",
    "DASHCAM_DATA_DIR": "root of the embedded default: storage areas, SQLite database (default ./dashcam-data)",
    "DASHCAM_DATABASE_URL": "SQLAlchemy URL of the results database, e.g. postgresql+psycopg://user:pw@host/db "
    "(default: sqlite under DASHCAM_DATA_DIR)",
    "DASHCAM_DEVICE": "hostname of this device, picks devices/<name>.json (default: the machine's hostname)",
    "DASHCAM_MODELS_DIR": "folder searched for model weights before any download",
    "DASHCAM_TESTDATA": "folder of real test data (tests only)",
    "DASHCAM_STRICT_TESTS": "1: a test that lacks its data, model or service fails instead of skipping",
    "DASHCAM_CAMERA_PASSWORD": "the dashcam's Wi-Fi API password, when the camera needs one",
    "DASHCAM_SECRET_KEY": "secret that signs web UI sessions and API tokens (required by `dashcam ui`; "
    "refused when short, well known or of low entropy)",
    "DASHCAM_DB_KEY": "key that encrypts the SQLite database (SQLCipher); set, the database is encrypted (random, "
    "at least 16 characters: `secrets.token_urlsafe(32)`; or encryption.db_key_file)",
    "DASHCAM_ARCHIVE_KEY": "key that wraps the data key of every archived object (AES-256-GCM); set, new archive "
    "objects are encrypted (or encryption.archive_key_file, or the Prefect Secret block dashcam-archive-key)",
}

DEFAULT_CONFIG_DIR = Path("/etc/dashcam-processor")
DEFAULT_DATA_DIR = Path("dashcam-data")

# Values that must never be accepted as secrets.
_WEAK_SECRETS = {"", "changeme", "change-me", "secret", "default", "dashcam", "password"}
MIN_SECRET_BITS = 80
"""Least estimated entropy of DASHCAM_SECRET_KEY (token_urlsafe(32) gives about 200)."""


def _shannon_bits(symbols: list[int]) -> float:
    n = len(symbols)
    return -sum(c / n * math.log2(c / n) for c in Counter(symbols).values()) * n if n else 0.0


def estimated_bits(key: str) -> float:
    """A cautious estimate of a secret's entropy: the least of three views that each catch one kind of weak key.

    Per-character Shannon entropy times length catches few distinct characters (16 x "a": 0 bits);
    the same over the steps between neighbours catches runs ("0123456789abcdef"); zlib's compressed size
    catches a repeated block. None proves randomness: this only refuses keys that are plainly weak.
    """
    codes = [ord(c) for c in key]
    steps = [(b - a) % 0x110000 for a, b in zip(codes, codes[1:], strict=False)]
    packed = (len(zlib.compress(key.encode(), 9)) - len(zlib.compress(b"", 9))) * 8
    return min(_shannon_bits(codes), _shannon_bits(steps), float(packed))


class SettingsError(ValueError):
    """A process setting is missing or unsafe."""


@dataclass(frozen=True)
class Settings:
    config_dir: Path
    config_dir_explicit: bool
    data_dir: Path
    database_url: str | None
    device: str
    models_dir: Path | None
    testdata: Path | None
    strict_tests: bool
    secret_key: str | None = field(default=None, repr=False)
    db_key: str | None = field(default=None, repr=False)
    archive_key: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        config_dir = env.get("DASHCAM_CONFIG_DIR")
        models = env.get("DASHCAM_MODELS_DIR")
        testdata = env.get("DASHCAM_TESTDATA")
        return cls(
            config_dir=Path(config_dir) if config_dir else DEFAULT_CONFIG_DIR,
            config_dir_explicit=bool(config_dir),
            data_dir=Path(env.get("DASHCAM_DATA_DIR") or DEFAULT_DATA_DIR).absolute(),
            database_url=env.get("DASHCAM_DATABASE_URL") or None,
            device=env.get("DASHCAM_DEVICE") or socket.gethostname(),
            models_dir=Path(models).absolute() if models else None,
            testdata=Path(testdata).absolute() if testdata else None,
            strict_tests=env.get("DASHCAM_STRICT_TESTS", "") not in ("", "0", "false", "no"),
            secret_key=env.get("DASHCAM_SECRET_KEY") or None,
            db_key=env.get("DASHCAM_DB_KEY") or None,
            archive_key=env.get("DASHCAM_ARCHIVE_KEY") or None,
        )

    def require_secret_key(self) -> str:
        """The session/token secret; refuses a missing, short, well-known or plainly low-entropy one."""
        return check_secret("DASHCAM_SECRET_KEY", self.secret_key or "")


def check_secret(name: str, key: str) -> str:
    """``key`` if it is long and random enough for a secret called ``name``, else :class:`SettingsError`
    (the message names the secret, never its value)."""
    make = '(e.g. `python -c "import secrets; print(secrets.token_urlsafe(32))"`)'
    if key.lower() in _WEAK_SECRETS or len(key) < 16:
        raise SettingsError(f"{name} must be set to a random string of at least 16 characters {make}")
    if (bits := estimated_bits(key)) < MIN_SECRET_BITS:
        raise SettingsError(
            f"{name} looks guessable (about {bits:.0f} bits of entropy, at least "
            f"{MIN_SECRET_BITS} needed): use a random string {make}"
        )
    return key


def get_settings() -> Settings:
    return Settings.from_env()
