"""The two keys of encryption at rest: where each comes from, how strong it must be, what it becomes.

* The **database key** (``DASHCAM_DB_KEY``, else ``encryption.db_key_file``) opens the SQLite database
  through SQLCipher.
* The **archive key** (``DASHCAM_ARCHIVE_KEY``, else ``encryption.archive_key_file``; on a worker of a
  deployment, the Prefect Secret block ``dashcam-archive-key``) wraps the data key of each archive object.

A key is a random string (``secrets.token_urlsafe(32)``), refused when short or plainly guessable, like
``DASHCAM_SECRET_KEY``. Because it is random it is not stretched: each use gets its own 256-bit key from
HMAC-SHA256 under a label, so one string given for both never yields the same key, and opening a database
costs no key derivation (SQLCipher's own PBKDF2 takes ~0.3 s per connection on a small CPU). A key file
must be a regular file with no permission bits for group or others (mode 0600) and hold one line.

Nothing here logs, prints or puts a key in an exception: messages name where a key came from, never it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from dashcam.settings import SettingsError, check_secret

if TYPE_CHECKING:
    from dashcam.config import Config

DB_ENV = "DASHCAM_DB_KEY"
ARCHIVE_ENV = "DASHCAM_ARCHIVE_KEY"
_DB_LABEL = b"dashcam-processor sqlcipher key v1"
_ARCHIVE_LABEL = b"dashcam-processor archive key v1"
_KEY_FILE_MAX = 4096


class EncryptionProblem(Exception):
    """Something about encryption at rest a user must fix: its message is one line, with no key in it."""


class KeyProblem(EncryptionProblem, ValueError):
    """A key is missing where it is required, unreadable, exposed or too weak (one line, no key in it)."""


@dataclass(frozen=True)
class Key:
    """A derived 256-bit key and where its string came from (``source`` is for messages)."""

    source: str
    secret: bytes = field(repr=False)

    @property
    def key_id(self) -> bytes:
        """8 bytes that tell which key sealed an object, without revealing anything about the key."""
        return hmac.new(self.secret, b"key id", hashlib.sha256).digest()[:8]

    def sqlcipher_pragma(self) -> str:
        """The value of SQLCipher's ``PRAGMA key``: a raw key, so SQLCipher derives nothing."""
        return f"x'{self.secret.hex()}'"


def derive(text: str, label: bytes, source: str) -> Key:
    return Key(source, hmac.new(label, text.encode(), hashlib.sha256).digest())


def read_key_file(path: Path) -> str:
    """The key in a file that only its owner can read; :class:`KeyProblem` otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0) | os.O_NONBLOCK)
    except OSError as exc:
        raise KeyProblem(f"{path}: cannot read the key file: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise KeyProblem(f"{path}: the key file is not a regular file")
        if os.name == "posix" and stat.S_IMODE(st.st_mode) & 0o077:
            raise KeyProblem(
                f"{path}: the key file is readable by others (mode {stat.S_IMODE(st.st_mode):04o}): "
                f"chmod 600 {path}"
            )
        data = os.read(fd, _KEY_FILE_MAX + 1)
    finally:
        os.close(fd)
    if len(data) > _KEY_FILE_MAX:
        raise KeyProblem(f"{path}: the key file is too long to hold one key")
    try:
        lines = [line.strip() for line in data.decode().splitlines() if line.strip()]
    except UnicodeDecodeError:
        raise KeyProblem(f"{path}: the key file is not text") from None
    if len(lines) != 1:
        raise KeyProblem(f"{path}: the key file must hold one line (the key), it holds {len(lines)}")
    return lines[0]


def _resolve(
    env_value: str | None, env_name: str, file: str | None, config: Config
) -> tuple[str, str] | None:
    """(key text, where it came from), or None when no key is configured."""
    if env_value:
        text, source = env_value, env_name
    elif file:
        path = Path(file)
        if not path.is_absolute() and config.source_dir is not None:
            path = config.source_dir / path
        text, source = read_key_file(path), str(path)
    else:
        return None
    try:
        check_secret(source, text)
    except SettingsError as exc:
        raise KeyProblem(str(exc)) from None
    return text, source


def uses_sqlite(config: Config) -> bool:
    return config.database_url().split(":", 1)[0].split("+", 1)[0] == "sqlite"


def database_key(config: Config) -> Key | None:
    """The SQLCipher key in force, or None (the database is plain). With ``encryption.enabled`` and a SQLite
    database, no key is a :class:`KeyProblem`: a new database is never made in the clear by mistake."""
    enc = config.global_config.encryption
    found = _resolve(config.settings.db_key, DB_ENV, enc.db_key_file, config)
    if found is None:
        if enc.enabled and uses_sqlite(config):
            raise KeyProblem(f"encryption.enabled is on: set {DB_ENV} (or encryption.db_key_file)")
        return None
    return derive(found[0], _DB_LABEL, found[1])


def archive_key(config: Config) -> Key | None:
    """The archive key in force, or None (new archive objects are written as they are). With
    ``encryption.enabled``, no key is a :class:`KeyProblem` when an object is to be sealed."""
    enc = config.global_config.encryption
    found = _resolve(config.settings.archive_key, ARCHIVE_ENV, enc.archive_key_file, config)
    if found is None:
        if enc.enabled:
            raise KeyProblem(
                f"encryption.enabled is on: set {ARCHIVE_ENV} (or encryption.archive_key_file, or the "
                "Secret block dashcam-archive-key in a deployment)"
            )
        return None
    return derive(found[0], _ARCHIVE_LABEL, found[1])


def archive_key_from(text: str, source: str) -> Key:
    """An archive key given outside the configuration (the new key of `dashcam archive rekey`)."""
    try:
        check_secret(source, text)
    except SettingsError as exc:
        raise KeyProblem(str(exc)) from None
    return derive(text, _ARCHIVE_LABEL, source)


def database_key_from(text: str, source: str) -> Key:
    """A database key given outside the configuration (the new key of `dashcam db rekey`)."""
    try:
        check_secret(source, text)
    except SettingsError as exc:
        raise KeyProblem(str(exc)) from None
    return derive(text, _DB_LABEL, source)


def new_key_text(env_name: str, file: Path | None) -> tuple[str, str]:
    """(key text, source) of a new key for a rekey: from a key file, else from an environment variable
    (never from the command line, where `ps` shows it)."""
    if file is not None:
        return read_key_file(file), str(file)
    text = os.environ.get(env_name, "")
    if not text:
        raise KeyProblem(f"set {env_name} to the new key (or give --new-key-file)")
    return text, env_name


def describe(config: Config) -> dict[str, str]:
    """Whether each part is encrypted, in words, for `dashcam config show` and the status page (the key's
    source is named, the key never)."""
    out: dict[str, str] = {}
    if uses_sqlite(config):
        try:
            key = database_key(config)
            out["database"] = f"on: SQLCipher, key from {key.source}" if key else "off"
        except KeyProblem as exc:
            out["database"] = f"on, but {exc}"
    else:
        out["database"] = (
            "PostgreSQL: encrypt its data directory on the host (LUKS or ZFS, infra/README.md) and use TLS"
        )
    try:
        akey = archive_key(config)
        out["archive"] = f"on: AES-256-GCM, key from {akey.source}" if akey else "off"
    except KeyProblem as exc:
        out["archive"] = f"on, but {exc}"
    return out
