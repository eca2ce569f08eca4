"""The search request and result types the web UI, the REST API and the CLI share."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dashcam.gps.track import EARTH_RADIUS_M
from dashcam.search.pattern import MAX_LENGTH, PatternError, check_pattern
from dashcam.search.text import MAX_EDITS, normalize_plate

METRES_PER_DEGREE = math.pi * EARTH_RADIUS_M / 180
LAT_BANDS = 500
"""Latitude bands per degree of the ``ix_sighting_lat_band`` index (CAST(lat * 500 AS INTEGER), lon)."""
MAX_BANDS = 400
MatchKind = Literal["exact", "confusion", "edits", "pattern"]
_TIER = {"exact": 0, "confusion": 1, "edits": 2, "pattern": 3}


def utc(dt: datetime | None) -> datetime | None:
    """Aware UTC (SQLite hands back naive datetimes, stored as UTC)."""
    if dt is None:
        return None
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


class SearchQuery(BaseModel):
    """What the web UI, the REST API and ``dashcam search`` ask for; every filter is optional."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    plate: str | None = Field(default=None, description="plate text; spaces, dashes and case do not matter")
    fuzzy: int = Field(default=0, ge=0, le=MAX_EDITS, description="also match plates this many edits away")
    confusions: bool = Field(
        default=True, description="also match plates that differ only by OCR confusions (O/0)"
    )
    plate_pattern: str | None = Field(
        default=None,
        description=f"at most {MAX_LENGTH} characters: a pattern the whole plate matches, ignoring case: letters, digits, . [A-Z] \\d ? * + "
        "{m,n} ( ) | (RE2, linear time)",
    )
    label: str | None = Field(default=None, description="object label, e.g. car")
    since: datetime | None = Field(
        default=None, description="seen at or after this instant (UTC; naive means UTC)"
    )
    until: datetime | None = Field(
        default=None, description="seen before this instant (UTC; naive means UTC)"
    )
    local_since: datetime | None = Field(
        default=None, description="seen at or after, on the clip's own clock (its UTC offset): naive, local"
    )
    local_until: datetime | None = Field(default=None, description="seen before, on the clip's own clock")
    near: tuple[float, float, float] | None = Field(
        default=None, description="(lat, lon, metres): within a circle"
    )
    bbox: tuple[float, float, float, float] | None = Field(
        default=None, description="(south, west, north, east)"
    )
    channel: str | None = Field(default=None, description="F front, R rear, I interior, T telephoto")
    kinds: tuple[str, ...] | None = Field(default=None, description="clip kinds: normal, parking, event")
    protected_only: bool = Field(
        default=False, description="only clips retention keeps (protected or pinned)"
    )
    limit: int = Field(default=50, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)
    count_total: bool = Field(default=True, description="count every match (one more query)")

    @field_validator("since", "until")
    @classmethod
    def _utc(cls, v: datetime | None) -> datetime | None:
        return utc(v)

    @field_validator("local_since", "local_until")
    @classmethod
    def _local(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is not None:
            raise ValueError("a local time has no time zone (an instant goes in since/until)")
        return v

    @field_validator("plate")
    @classmethod
    def _plate(cls, v: str | None) -> str | None:
        if v is not None and not normalize_plate(v):
            raise ValueError(f"{v!r} has no letters or digits")
        return None if v is None else normalize_plate(v)

    @field_validator("plate_pattern")
    @classmethod
    def _pattern(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                check_pattern(v)
            except PatternError as exc:
                raise ValueError(f"plate pattern {v!r}: {exc}") from None
        return v

    @field_validator("channel")
    @classmethod
    def _channel(cls, v: str | None) -> str | None:
        if v is not None and v.upper() not in ("F", "R", "I", "T"):
            raise ValueError(f"channel must be F, R, I or T, not {v!r}")
        return None if v is None else v.upper()

    @model_validator(mode="after")
    def _places(self) -> SearchQuery:
        if self.near is not None:
            lat, lon, r = self.near
            if not (-90 <= lat <= 90 and -180 <= lon <= 180) or r <= 0:
                raise ValueError("near needs -90<=lat<=90, -180<=lon<=180 and metres > 0")
        if self.bbox is not None:
            s, w, n, e = self.bbox
            if not (-90 <= s <= n <= 90 and -180 <= w <= e <= 180):
                raise ValueError("bbox is (south, west, north, east) with south<=north and west<=east")
        if self.since and self.until and self.since >= self.until:
            raise ValueError("since must be before until")
        return self


class SearchHit(BaseModel):
    """One sighting that matched, with what the result list shows and why it matched."""

    sighting_id: int
    clip_id: int
    file_name: str
    channel: str | None
    clip_kind: str
    protected: bool
    label: str
    score: float
    plate: str | None = Field(description="the user's correction, else the OCR consensus")
    plate_ocr: str | None
    corrected: bool
    plate_confidence: float | None
    time_utc: datetime | None
    time_local: str | None = Field(None, description="on the clip's own clock, ISO without a zone")
    utc_offset_s: int | None = Field(None, description="the clip's clock minus UTC, when known")
    lat: float | None
    lon: float | None
    best_s: float
    first_s: float
    last_s: float
    thumbnail_id: int | None = None
    thumbnail_key: str | None = None
    match: MatchKind | None = Field(None, description="why the plate matched (None: no plate asked for)")
    edits: int | None = Field(None, description="edits between the folded plates (0 for exact/confusion)")
    distance: float | None = Field(None, description="weighted edit distance; confusable swaps cost less")
    distance_m: float | None = Field(None, description="metres from the centre of a `near` search")


class SearchPage(BaseModel):
    """One page of hits, best first."""

    total: int | None
    has_more: bool
    offset: int
    limit: int
    hits: list[SearchHit]


@dataclass(frozen=True)
class PlateMatch:
    """A plate text that answers a plate query, and how well."""

    text: str
    match: MatchKind
    edits: int
    distance: float

    @property
    def order(self) -> tuple[int, float, str]:
        return (_TIER[self.match], self.distance, self.text)
