"""What every page shares: the configuration, the database engine, the storage areas, and off-loop calls."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from nicegui import run
from sqlalchemy.engine import Engine
from sqlmodel import Session

from dashcam.config import Config, load_config
from dashcam.db.session import ensure_schema, get_engine, session_scope
from dashcam.settings import read_env
from dashcam.storage import Storage

T = TypeVar("T")
# Map tiles: DASHCAM_UI_TILE_URL, else webui.tile_url, an OSM-style URL template; "none" draws no tiles
# (offline, tests).


@dataclass
class UiState:
    config: Config
    engine: Engine
    storage: Storage
    tile_url: str
    confusions: dict[str, str]
    prefect_api_url: str | None
    prefect_ui_url: str | None


_state: UiState | None = None


def init(config: Config | None = None) -> UiState:
    """Load the configuration, bring the database to the newest schema, and keep what pages need."""
    global _state
    config = config or load_config()
    url = config.database_url()
    ensure_schema(url, config=config)
    g = config.global_config
    tile = (read_env().ui_tile_url or g.webui.tile_url).strip()
    _state = UiState(
        config=config,
        # pooled: a request finds SQLite's page cache (and SQLCipher's decrypted pages) warm
        engine=get_engine(config, url=url),
        storage=Storage(config),
        tile_url="" if tile.lower() == "none" else tile,
        confusions=dict(g.plates.confusions),
        prefect_api_url=g.prefect.api_url or os.environ.get("PREFECT_API_URL") or None,
        prefect_ui_url=g.prefect.ui_url,
    )
    return _state


def get() -> UiState:
    if _state is None:
        raise RuntimeError("webui.state.init() has not run")
    return _state


def in_session(fn: Callable[..., T], /, **kwargs: Any) -> T:
    """Run ``fn(session=..., **kwargs)`` in one transaction (blocking: call through :func:`db`)."""
    with session_scope(get().engine) as session:
        return fn(session=session, **kwargs)


async def db(fn: Callable[..., T], /, **kwargs: Any) -> T:
    """``fn(session=..., **kwargs)`` on a worker thread, so the event loop never waits on the database."""
    return await run.io_bound(in_session, fn, **kwargs)


__all__ = ["Session", "UiState", "db", "get", "in_session", "init"]
