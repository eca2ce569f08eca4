"""Secrets out of log lines: what :mod:`dashcam.logs` runs over every field before a line is written.

Masked, wherever they appear in a message, a traceback or an extra field:

- the value of every environment variable whose name says it holds a secret (PASSWORD, PASSWD, SECRET,
  TOKEN, API_KEY, AUTH_STRING, CREDENTIAL: DASHCAM_SECRET_KEY, DASHCAM_API_KEY, DASHCAM_UI_PASSWORD,
  PREFECT_API_AUTH_STRING, PREFECT_API_KEY...), the password of every URL held in an environment variable
  (DASHCAM_DATABASE_URL, PREFECT_API_DATABASE_CONNECTION_URL...), and what a process adds with
  :func:`add_secret` (the camera's password variable, a database URL read from a Prefect Secret block)
  or :func:`add_url_secret` (the Apprise URL of ``notify``);
  values shorter than :data:`MIN_SECRET` characters are left to the patterns below (masking "1234"
  everywhere would mangle clip numbers);
- by pattern: a URL's password (``postgresql://user:***@host/db``), ``key=value`` and ``"key": "value"``
  where the key names a secret, ``Bearer <token>``, and device API keys (``dk_<id>_***``, the id is public).

The patterns run in RE2 (linear time): a hostile file name in a message cannot stall the logger.
"""

from __future__ import annotations

import os
import re
from typing import Any

import re2

MIN_SECRET = 8
MASK = "***"

_SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|AUTH_STRING|CREDENTIAL", re.IGNORECASE)
_URL_PASSWORD = re2.compile(r"(?i)(\b[a-z][a-z0-9+.\-]*://[^\s:/@]*:)[^\s@/]+@")
_KEY_VALUE = re2.compile(
    r"(?i)((?:password|passwd|secret|token|api[_-]?key|apikey|auth[_-]?string|credentials?)[\w-]*"
    r"[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,;}\]]+"
)
_BEARER = re2.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]+")
_API_KEY = re2.compile(r"\b(dk_[0-9a-f]+_)[A-Za-z0-9_-]+")
_ADDED: set[str] = set()


def add_secret(value: str | None) -> None:
    """Mask this value in every later line of this process (and a URL's password, if it is a URL)."""
    if not value:
        return
    if len(value) >= MIN_SECRET:
        _ADDED.add(value)
    _ADDED.update(p for p in _url_passwords(value) if len(p) >= MIN_SECRET)


def add_url_secret(url: str | None) -> None:
    """Mask a URL that is a secret as a whole (an Apprise URL): the URL, its password, and its path parts
    and query values, where services put their tokens (``ntfys://ntfy.sh/<topic>``, ``tgram://<token>/...``)."""
    if not url:
        return
    add_secret(url)
    from urllib.parse import parse_qsl, unquote, urlsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return
    for piece in [*parts.path.split("/"), *(v for _, v in parse_qsl(parts.query))]:
        add_secret(piece)
        add_secret(unquote(piece))
    user, _, host = parts.netloc.rpartition("@")
    add_secret(user)  # user:token@host
    if "." not in host and not host.startswith(("localhost", "[")):
        add_secret(host)  # not a host name but a token in its place: tgram://<bot token>/<chat>


def _url_passwords(text: str) -> list[str]:
    out = []
    for m in re.finditer(r"://[^\s:/@]*:([^\s@/]+)@", text):
        out.append(m.group(1))
    return out


def known_secrets() -> list[str]:
    """The exact values to mask, longest first (so a secret containing another is masked whole)."""
    found = set(_ADDED)
    for name, value in os.environ.items():
        if not value:
            continue
        if _SECRET_NAME.search(name) and len(value) >= MIN_SECRET:
            found.add(value)
        if "://" in value:
            found.update(p for p in _url_passwords(value) if len(p) >= MIN_SECRET)
    return sorted(found, key=len, reverse=True)


def mask(text: str) -> str:
    """``text`` with every secret replaced by ``***``."""
    for secret in known_secrets():
        if secret in text:
            text = text.replace(secret, MASK)
    text = _URL_PASSWORD.sub(r"\1" + MASK + "@", text)
    text = _KEY_VALUE.sub(r"\1" + MASK, text)
    text = _BEARER.sub(r"\1" + MASK, text)
    return _API_KEY.sub(r"\1" + MASK, text)


def mask_value(value: Any) -> Any:
    """A log field with its secrets masked: strings, and the strings inside lists and dicts."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {k: mask_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_value(v) for v in value]
    return value
