"""Telling a person on one machine: watchlist hits sent through Apprise (email, ntfy, Telegram, a webhook ...).

A deployment tells people through a Prefect automation instead (`dashcam setup --notify-block NAME`):
the heavy flows emit ``dashcam.watchlist.hit`` events and the server sends them through the user's block.
The Apprise URL often carries a token, so it is never logged or printed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

log = logging.getLogger(__name__)


def notify_url(cfg: Any) -> str | None:
    """The Apprise URL in force: the variable ``notify.url_env`` names, else ``notify.url``."""
    from dashcam.secretmask import add_url_secret

    section = cfg.global_config.notify
    url = os.environ.get(section.url_env) or section.url or None
    add_url_secret(url)  # Apprise's own log lines may name its token: masked in every line of this process
    return url


def send(url: str, title: str, lines: Sequence[str]) -> str | None:
    """Send one message; None when it went, else one line saying why not (without the URL)."""
    import apprise

    scheme = url.split("://", 1)[0] if "://" in url else "?"
    box = apprise.Apprise()
    if not box.add(url):
        return f"the notification URL ({scheme}://...) is not one Apprise understands"
    try:
        ok = box.notify(title=title, body="\n".join(lines))
    except Exception as exc:  # noqa: BLE001 - a plugin's own failure: one line, the run's work is done
        return f"sending through {scheme}:// failed: {type(exc).__name__}"
    return None if ok else f"sending through {scheme}:// failed (see the log with --verbose)"
