"""The web UI's one entry: ``dashcam ui`` (or ``python webui/main.py``) builds the app and serves it.

Pages live in webui/pages (one ``register()`` each), the shared shell in webui/theme.py. Sessions are
signed with DASHCAM_SECRET_KEY, which must be set and strong; the server binds 127.0.0.1 unless told
otherwise (the guide's nginx TLS proxy serves the LAN).
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


def build(config: Config | None = None) -> Config:
    """Register the middleware, the media routes and every page on NiceGUI's app."""
    from webui import api, auth, media, state

    st = state.init(config)
    app.add_middleware(auth.AuthMiddleware)
    media.register()
    api.register(app)
    for name in PAGES:
        importlib.import_module(f"webui.pages.{name}").register()
    return st.config


def start(host: str | None = None, port: int | None = None, *, config: Config | None = None) -> None:
    """Build and serve (blocks until stopped)."""
    secret = get_settings().require_secret_key()
    config = build(config or load_config())
    webui = config.global_config.webui
    ui.run(
        host=host or webui.host,
        port=port or webui.port,
        title="Dashcam",
        storage_secret=secret,
        session_middleware_kwargs={"same_site": "lax", "max_age": 14 * 24 * 3600},
        reload=False,
        show=False,
        favicon="🚗",
        show_welcome_message=False,
        uvicorn_logging_level="warning",
    )


if __name__ in {"__main__", "__mp_main__"}:
    start()
