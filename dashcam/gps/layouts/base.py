"""What every freeGPS layout shares: the decoded record, the registry entry, unit helpers.

A block is what the `gps ` index points at: a 4-byte big-endian size, ``freeGPS `` (so the block is itself
a ``free`` box), then a camera-specific payload. Offsets in the layout modules count from the block's first
byte, as in ExifTool's hex dumps (lib/Image/ExifTool/QuickTimeStream.pl), which is the spec they follow.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

KNOTS_TO_KMH = 1.852
MPS_TO_KMH = 3.6
BLOCK_MAGIC = b"freeGPS "
MAX_MINUTES = 60.01


@dataclass(slots=True)
class BlockRecord:
    """One fix (or one no-fix clock reading) as a block states it, before any cross-block judgement.

    The clock fields are all None for layouts that carry no time (INNOVV, 70mai): the fix keeps its place in
    the video but gets no UTC time. A clock that is present but impossible (Feb 30) makes ``time_utc()`` None
    while ``has_clock`` stays true, so the reader can skip the record instead of keeping it undated.
    """

    layout: str
    status: str  # "A" = fix, "V" = no fix (the camera clock fields may still be set)
    year: int | None = None
    month: int | None = None
    day: int | None = None
    hour: int | None = None
    minute: int | None = None
    second: float | None = None
    lat: float | None = None  # signed decimal degrees
    lon: float | None = None
    speed_kmh: float | None = None
    heading: float | None = None
    accel: tuple[float, float, float] | None = None
    year_absolute: bool = False  # stored as 2026, not 26: Kenwood writes local time this way
    # Seconds from the block's own video second to this record, for blocks holding older records (a ring
    # buffer); None: the block's records share its second evenly.
    dt: float | None = None

    @property
    def has_fix(self) -> bool:
        return (
            self.status == "A"
            and self.lat is not None
            and self.lon is not None
            and (self.lat, self.lon) != (0, 0)
        )

    @property
    def has_clock(self) -> bool:
        return self.year is not None

    def time_utc(self) -> datetime | None:
        """The record's clock as an aware datetime; None without a clock or for an impossible date."""
        second = self.second
        if self.year is None or second is None or not 0 <= second < 61:
            return None
        whole = int(second)
        micro = round((second - whole) * 1e6)
        if micro >= 1_000_000:
            whole, micro = whole + 1, 0
        if self.month is None or self.day is None or self.hour is None or self.minute is None:
            return None
        try:
            if whole < 60:
                return datetime(
                    self.year, self.month, self.day, self.hour, self.minute, whole, micro, tzinfo=timezone.utc
                )
            # a leap second: datetime() has no 60, so it is the next minute's first second
            base = datetime(self.year, self.month, self.day, self.hour, self.minute, tzinfo=timezone.utc)
            return base + timedelta(seconds=whole, microseconds=micro)
        except ValueError:
            return None


def clock_of(when: datetime) -> dict[str, int | float]:
    """BlockRecord clock fields of an aware datetime (for the stream formats that give epoch seconds)."""
    when = when.astimezone(timezone.utc)
    return {
        "year": when.year,
        "month": when.month,
        "day": when.day,
        "hour": when.hour,
        "minute": when.minute,
        "second": when.second + when.microsecond / 1e6,
    }


class LayoutUnsupported(Exception):
    """The block is of a known layout whose coordinates cannot be decoded (encrypted): never guess them."""


@dataclass
class BlockContext:
    """File-level facts some layouts need (ExifTool reads them from other boxes of the same file)."""

    kodak_version: str | None = None  # `frea`/`ver `: "3.01.054" marks the Rexing V1-4K scaled coordinates
    # What a layout learns from one block and keeps for the next ones of the same file (LIGOGPS's scale and
    # cipher).
    state: dict[str, Any] = field(default_factory=dict)
    t: float = 0.0  # the video second of the block being decoded (records held back keep theirs)
    offset: int = 0  # and where it is in the file


Detector = Callable[[bytes], bool]
Decoder = Callable[[bytes, BlockContext], list[BlockRecord]]


@dataclass(frozen=True)
class Layout:
    """One registry entry: a block payload layout, how to recognise it, how to decode it."""

    name: str  # what `dashcam gps --json` reports
    exiftool: str  # ExifTool's GPSType for it ("3", "17b"); "" for a layout of ours
    cameras: str
    detect: Detector
    decode: Decoder
    whole_block: bool = False  # records run through the whole block, past the first DECODE_BYTES
    variants: tuple[str, ...] = ()  # the layout names its records carry, when not just ``name``

    @property
    def names(self) -> tuple[str, ...]:
        return self.variants or (self.name,)


# ---------------------------------------------------------------------------------------------------
# Unit helpers. Values are read as ExifTool reads them (little-endian unless a layout says otherwise).


def ddmm_to_degrees(value: float) -> float:
    """NMEA-style DDDMM.MMMM to decimal degrees, truncating toward zero like ExifTool.

    Minutes of 60 or more cannot come from a receiver: the field is not DDMM (a wrongly scaled or misread
    layout), so the result is NaN, which the track assembly rejects, rather than a position tens of degrees
    off. The slack covers float32 rounding (0.002 at 18000).
    """
    if not math.isfinite(value):
        return math.nan
    degrees = int(value / 100)
    minutes = value - degrees * 100
    if abs(minutes) >= MAX_MINUTES:
        return math.nan
    return degrees + minutes / 60


def valid_position(lat: float, lon: float) -> bool:
    return math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180


def signed(value: float, ref: bytes | str, negative: bytes | str) -> float:
    """Apply a hemisphere letter: ExifTool multiplies by -1 for S/W without taking abs() first."""
    return -value if ref == negative else value


def f32(data: bytes, at: int) -> float:
    return struct.unpack_from("<f", data, at)[0]  # type: ignore[no-any-return]


def f64(data: bytes, at: int) -> float:
    return struct.unpack_from("<d", data, at)[0]  # type: ignore[no-any-return]


def u32(data: bytes, at: int) -> int:
    return struct.unpack_from("<I", data, at)[0]  # type: ignore[no-any-return]


def i32(data: bytes, at: int) -> int:
    return struct.unpack_from("<i", data, at)[0]  # type: ignore[no-any-return]


def u32s(data: bytes, at: int, n: int) -> tuple[int, ...]:
    return struct.unpack_from(f"<{n}I", data, at)


def finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def fix(
    layout: str, clock: Mapping[str, float] | None, lat: float, lon: float, **rest: object
) -> BlockRecord:
    """A fix as decoded. A position off the globe (NaN, 95 N) stays as it is: the track assembly counts it
    against its layout, and a layout with nothing but such fixes is reported as not recognised."""
    return BlockRecord(layout, "A", **(clock or {}), lat=lat, lon=lon, **rest)  # type: ignore[arg-type]


def year_clock(
    year: int, month: int, day: int, hour: int, minute: int, second: float
) -> dict[str, int | float]:
    """Clock fields from a camera's stored year, which is 2-digit (26) on most and absolute (2026) on some."""
    return {
        "year": year if year >= 2000 else year + 2000,
        "month": month,
        "day": day,
        "hour": hour,
        "minute": minute,
        "second": second,
        "year_absolute": year >= 2000,
    }
