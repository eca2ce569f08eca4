"""Process settings read from the environment (``DASHCAM_*``).

Slow-changing, shared configuration lives in the config directory (see :mod:`dashcam.config`);
this module only holds what differs per process: where things are on this machine and secrets.
"""

from __future__ import annotations

import math
import socket
import zlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict


class Env(BaseSettings):
    """Every ``DASHCAM_*`` variable the project reads, typed: the README's table is generated from it
    (``python -m dashcam.settings``), and a test fails when code reads one that is not declared here.

    Empty counts as unset. A value of the wrong type is one :class:`SettingsError` naming the variable.
    """

    model_config = SettingsConfigDict(
        env_prefix="DASHCAM_", env_ignore_empty=True, extra="ignore", frozen=True
    )

    config_dir: Path | None = Field(
        default=None,
        description="config directory holding `config.json` and `devices/*.json` (default "
        "`/etc/dashcam-processor`); when it does not exist the embedded default applies",
    )
    data_dir: Path | None = Field(
        default=None,
        description="root of the embedded default: storage areas and the SQLite database (default "
        "`./dashcam-data`)",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the results database, e.g. `postgresql+psycopg://user:pw@host/dashcam` "
        "(default: SQLite `DASHCAM_DATA_DIR/dashcam.db`, WAL mode)",
    )
    device: str | None = Field(
        default=None,
        description="hostname of this device: picks `devices/<name>.json` (default: the machine's hostname)",
    )
    models_dir: Path | None = Field(
        default=None, description="folder searched for model weights before any download"
    )
    models_url: str | None = Field(
        default=None,
        description="a mirror that replaces the upstream folder of every model download (`dashcam models fetch`)",
    )
    cache_dir: Path | None = Field(
        default=None,
        description="where converted models are cached (default `$XDG_CACHE_HOME/dashcam` or `~/.cache/dashcam`)",
    )
    camera_password: SecretStr | None = Field(
        default=None,
        description="the dashcam's Wi-Fi API password, when it has one (the name is configurable: "
        "`camera.password_env`)",
    )
    notify_url: SecretStr | None = Field(
        default=None,
        description="Apprise URL that watchlist hits go to (wins over `notify.url`; the name is configurable: "
        "`notify.url_env`)",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="secret that signs web UI sessions and API tokens (refused when missing, short, well known "
        "or of low entropy: use `secrets.token_urlsafe(32)`)",
    )
    db_key: SecretStr | None = Field(
        default=None,
        description="key of the SQLite database: set, the database is encrypted with SQLCipher (random, at "
        "least 16 characters: `secrets.token_urlsafe(32)`; or `encryption.db_key_file`). See "
        "[Encryption at rest](#encryption-at-rest)",
    )
    db_new_key: SecretStr | None = Field(
        default=None, description="`dashcam db rekey`: the new database key (or `--new-key-file`)"
    )
    archive_key: SecretStr | None = Field(
        default=None,
        description="key that wraps each archived object's data key: set, new archive objects are encrypted "
        "(or `encryption.archive_key_file`, or the Prefect Secret block `dashcam-archive-key` in a deployment)",
    )
    archive_new_key: SecretStr | None = Field(
        default=None,
        description="`dashcam archive rekey`: the new archive key (the name is configurable: `--new-key-env`)",
    )
    ui_password: SecretStr | None = Field(
        default=None, description="`dashcam ui user add`: the new account's password, instead of a prompt"
    )
    ui_tile_url: str | None = Field(
        default=None,
        description="map tiles of the web UI, an OSM-style URL template (wins over `webui.tile_url`; `none`: "
        "no tiles, e.g. offline)",
    )
    api_key: SecretStr | None = Field(default=None, description="`dashcam api`: the device's API key")
    api_token_ttl_s: int = Field(default=3600, gt=0, description="seconds an API token lives")
    api_prefect_timeout_s: float = Field(
        default=3.0,
        ge=0.1,
        description="seconds the API waits for the Prefect server before answering without it",
    )
    heartbeat_interval_s: int = Field(
        default=60,
        gt=0,
        description="seconds between device heartbeats (three missed: the device shows as lost)",
    )
    code_dir: Path | None = Field(
        default=None,
        description="set by `dashcam setup` for the deployments it registers: where the project's code is",
    )
    testdata: Path | None = Field(
        default=None, description="tests only: folder of real test data (GPS bytes, plate photos, road video)"
    )
    strict_tests: bool = Field(
        default=False,
        description="tests only: `1` makes a test that lacks its data, model or service fail instead of skip",
    )
    test_archive_pause: Path | None = Field(
        default=None,
        description="tests only: a folder where the archive stage pauses at `DASHCAM_TEST_ARCHIVE_PAUSE_AT`",
    )
    test_archive_pause_at: str | None = Field(
        default=None, description="tests only: where the archive stage pauses"
    )
    test_db_convert_pause: Path | None = Field(
        default=None,
        description="tests only: a folder where `dashcam db encrypt` pauses at `DASHCAM_TEST_DB_CONVERT_PAUSE_AT`",
    )
    test_db_convert_pause_at: str | None = Field(
        default=None, description="tests only: where the conversion pauses"
    )


class _GivenEnv(Env):
    """:class:`Env` from a given mapping only (tests, a child's environment), never from ``os.environ``."""

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: Any, init_settings: Any, *_: Any, **__: Any
    ) -> tuple[Any, ...]:
        return (init_settings,)


def env_name(field: str) -> str:
    """The variable of one :class:`Env` field."""
    return f"DASHCAM_{field.upper()}"


def read_env(environ: Mapping[str, str] | None = None) -> Env:
    """The ``DASHCAM_*`` variables of ``environ`` (default: this process's), or one :class:`SettingsError`."""
    try:
        if environ is None:
            return Env()
        prefix = "DASHCAM_"
        given: dict[str, Any] = {
            k[len(prefix) :].lower(): v for k, v in environ.items() if k.startswith(prefix) and v != ""
        }
        return _GivenEnv(**{k: v for k, v in given.items() if k in Env.model_fields})
    except ValidationError as exc:
        err = exc.errors()[0]
        name = env_name(str(err["loc"][0])) if err["loc"] else "DASHCAM_*"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise SettingsError(f"{name}: {err['msg']}{more}") from None


def table() -> str:
    """The README's table of variables (Markdown)."""
    rows = [f"| `{env_name(n)}` | {f.description} |" for n, f in Env.model_fields.items()]
    return "\n".join(["| variable | meaning |", "|---|---|", *rows])


class SettingsError(ValueError):
    """A process setting is missing, of the wrong type or unsafe."""


def _plain(secret: SecretStr | None) -> str | None:
    return secret.get_secret_value() if secret is not None else None


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
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        e = read_env(environ)
        return cls(
            config_dir=e.config_dir or DEFAULT_CONFIG_DIR,
            config_dir_explicit=e.config_dir is not None,
            data_dir=(e.data_dir or DEFAULT_DATA_DIR).absolute(),
            database_url=e.database_url,
            device=e.device or socket.gethostname(),
            models_dir=e.models_dir.absolute() if e.models_dir else None,
            testdata=e.testdata.absolute() if e.testdata else None,
            strict_tests=e.strict_tests,
            secret_key=_plain(e.secret_key),
            db_key=_plain(e.db_key),
            archive_key=_plain(e.archive_key),
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


if __name__ == "__main__":
    print(table())
