"""Database: SQLModel tables, sessions, migrations and idempotent writes."""

from dashcam.db.models import (
    Clip,
    GpsPoint,
    Media,
    PlateRead,
    Sighting,
    StageRun,
    WatchlistEntry,
    Window,
)
from dashcam.db.session import ensure_schema, get_engine, make_engine, session_scope, upgrade

__all__ = [
    "Clip",
    "GpsPoint",
    "Media",
    "PlateRead",
    "Sighting",
    "StageRun",
    "WatchlistEntry",
    "Window",
    "ensure_schema",
    "get_engine",
    "make_engine",
    "session_scope",
    "upgrade",
]
