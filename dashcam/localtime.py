"""Local time: a clip's own clock is UTC moved by its offset (estimated from GPS at ingest). What a
person types as a date, and what pages show, is that clock; the database keeps both."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone


def as_utc(when: datetime) -> datetime:
    """Aware UTC (SQLite hands back naive datetimes, stored as UTC)."""
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)


def local_iso(when: datetime | None, offset_s: int | None) -> str | None:
    """The local wall-clock time of an instant, ISO without a zone (what ``Sighting.time_local`` holds):
    UTC moved by the clip's offset, UTC itself where the offset is unknown."""
    if when is None:
        return None
    moved = as_utc(when) + timedelta(seconds=offset_s or 0)
    return moved.replace(tzinfo=None).isoformat(timespec="seconds")


def offset_text(offset_s: int | None) -> str:
    """``+02:00`` (``UTC`` where the offset is unknown)."""
    if offset_s is None:
        return "UTC"
    sign = "-" if offset_s < 0 else "+"
    h, m = divmod(abs(offset_s) // 60, 60)
    return f"{sign}{h:02d}:{m:02d}"


def local_bound(value: datetime) -> str:
    """A naive local date-time as the ISO text ``Sighting.time_local`` compares with."""
    return value.replace(tzinfo=None).isoformat(timespec="seconds")


def local_display(when: datetime | None, offset_s: int | None) -> str:
    """``2024-05-18 00:30:05 +02:00``: the clip's clock, and how far it is from UTC."""
    text = local_iso(when, offset_s)
    return f"{text.replace('T', ' ')} {offset_text(offset_s)}" if text else ""
