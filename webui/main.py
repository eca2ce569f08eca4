"""The web UI's one entry: ``dashcam ui`` (or ``python webui/main.py``) builds the app and serves it.

Pages live in webui/pages (one ``register()`` each), the shared shell in webui/theme.py. Sessions are
signed with DASHCAM_SECRET_KEY, which must be set and strong; the server binds 127.0.0.1 unless told
otherwise (the guide's nginx TLS proxy serves the LAN). X-Forwarded-For and X-Forwarded-Proto are
believed only from ``webui.trusted_proxies`` (uvicorn's proxy headers, off when the list is empty).
"""

from __future__ import annotations

import importlib
import logging
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script (NiceGUI's test runner, `python webui/main.py`)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nicegui import app, ui

from dashcam.config import Config, load_config
from dashcam.settings import get_settings

log = logging.getLogger(__name__)
PAGES = ("login", "search", "sighting", "plates", "map", "timeline", "status")
SESSION = {"same_site": "lax", "max_age": 14 * 24 * 3600}


def build(config: Config | None = None, *, secret: str | None = None) -> Config:
    """Register the middleware, the media routes and every page on NiceGUI's app."""
    from nicegui import core
    from nicegui.storage import set_storage_secret

    from webui import api, auth, media, site, state

    st = state.init(config)
    app.add_middleware(auth.AuthMiddleware)
    # the session middleware now, not in ui.run: the headers middleware must sit outside it to see (and
    # mark Secure) the session cookie; ui.run finds it in place and does not add another
    set_storage_secret(secret or get_settings().require_secret_key(), SESSION)
    app.add_middleware(site.SiteHeaders, tile_url=st.tile_url)
    core.sio.eio.cors_allowed_origins = site.same_origin
    media.register()
    api.register(app)
    for name in PAGES:
        importlib.import_module(f"webui.pages.{name}").register()
    return st.config


def start(host: str | None = None, port: int | None = None, *, config: Config | None = None) -> None:
    """Build and serve (blocks until stopped)."""
    from dashcam import logs

    secret = get_settings().require_secret_key()
    config = build(config or load_config(), secret=secret)
    webui = config.global_config.webui
    trusted = webui.trusted_proxies
    setup = logs.active()
    extra: dict[str, object] = {}
    if setup.format == "json":
        # uvicorn's own logging config writes text: without it its loggers reach the root's JSON handlers
        extra["log_config"] = None
        logs.adopt("uvicorn", "uvicorn.error", "uvicorn.access", "fastapi")
    ui.run(
        host=host or webui.host,
        port=port or webui.port,
        title="Dashcam",
        storage_secret=secret,
        session_middleware_kwargs=SESSION,
        reload=False,
        show=False,
        favicon="🚗",
        show_welcome_message=False,
        uvicorn_logging_level=(setup.level or "warning").lower(),
        proxy_headers=bool(trusted),
        forwarded_allow_ips=",".join(trusted) if trusted else None,
        server_header=False,
        **extra,  # type: ignore[arg-type]
    )


if __name__ in {"__main__", "__mp_main__"}:
    start()
