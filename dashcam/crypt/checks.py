"""What `dashcam config validate` says about encryption: keys that would be refused (problems), and a
database reached over the network in the clear (a warning)."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from dashcam.crypt.keys import DB_ENV, KeyProblem, archive_key, database_key, uses_sqlite

if TYPE_CHECKING:
    from dashcam.config import Config

# libpq's sslmode values that refuse a connection without TLS
_TLS_MODES = {"require", "verify-ca", "verify-full"}


def _loopback(host: str) -> bool:
    if host in ("", "localhost") or host.startswith("/"):  # no host, or a Unix socket folder
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a name: it may resolve anywhere, so it counts as the network
        return False


def tls_warning(url: str) -> str | None:
    """A warning when a PostgreSQL URL reaches another host without requiring TLS (the password is never
    shown: only the host)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        u = make_url(url)
    except ArgumentError:
        return None
    if u.get_backend_name() != "postgresql":
        return None
    hosts = [h for h in str(u.query.get("host") or u.host or "").split(",") if h] or [u.host or ""]
    remote = [h for h in hosts if not _loopback(h)]
    mode = u.query.get("sslmode")
    if not remote or (isinstance(mode, str) and mode in _TLS_MODES):
        return None
    return (
        f"database URL reaches {', '.join(remote)} without TLS (sslmode={mode or 'prefer'}): plates, places "
        "and the password can travel in the clear; add ?sslmode=require (verify-full with the server's CA)"
    )


def check(config: Config) -> tuple[list[str], list[str]]:
    """(problems, warnings) about encryption at rest and in transit of this configuration."""
    problems: list[str] = []
    warnings: list[str] = []
    for find in (database_key, archive_key):
        try:
            find(config)
        except KeyProblem as exc:
            problems.append(str(exc))
    url = config.database_url()
    if (w := tls_warning(url)) is not None:
        warnings.append(w)
    if not uses_sqlite(config) and (config.settings.db_key or config.global_config.encryption.db_key_file):
        warnings.append(
            f"{DB_ENV} / encryption.db_key_file only encrypt a SQLite database: this one is PostgreSQL "
            "(encrypt its data directory on the host: infra/README.md)"
        )
    return problems, warnings
