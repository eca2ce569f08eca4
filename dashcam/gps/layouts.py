"""Payload layouts of Novatek "freeGPS" blocks, as data.

A block is what the `gps ` index points at: a 4-byte big-endian size, then ``freeGPS `` (so the block is
itself a ``free`` box), then a camera-specific payload. Offsets below count from the block's first byte.

Most cameras write the Novatek binary record (6 x uint32 time fields, status/hemisphere bytes, four
float32 values) and differ only in where the record starts, so adding such a camera is one line in
:data:`BINARY_LAYOUTS`. Other families (doubles, NMEA text, XOR-obfuscated text) have their own decoder.
"""

from __future__ import annotations

import logging
import math
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

log = logging.getLogger(__name__)

KNOTS_TO_KMH = 1.852
BLOCK_MAGIC = b"freeGPS "
# How much of a block any layout looks at; camera blocks are 0x4000-0x8000 bytes of mostly padding.
DECODE_BYTES = 0x400


@dataclass(frozen=True)
class BlockRecord:
    """What one freeGPS block says, before any cross-block judgement (dedup, spikes, clock)."""

    layout: str
    status: str  # "A" = fix, "V" = no fix (the camera clock fields may still be set)
    year: int
    month: int
    day: int
    hour: int
    minute: int
    second: float
    lat: float | None = None  # signed decimal degrees
    lon: float | None = None
    speed_kmh: float | None = None
    heading: float | None = None
    accel: tuple[float, float, float] | None = None
    year_absolute: bool = False  # stored as 2026, not 26: Kenwood writes local time this way

    @property
    def has_fix(self) -> bool:
        return (
            self.status == "A"
            and self.lat is not None
            and self.lon is not None
            and (self.lat, self.lon) != (0, 0)
        )

    def time_utc(self) -> datetime | None:
        """The block's clock as an aware datetime, or None for an impossible date (Feb 30, month 13)."""
        whole = int(self.second)
        micro = round((self.second - whole) * 1e6)
        try:
            return datetime(
                self.year, self.month, self.day, self.hour, self.minute, whole, micro, tzinfo=timezone.utc
            )
        except ValueError:
            return None


def ddmm_to_degrees(value: float) -> float:
    """NMEA-style DDDMM.MMMM to decimal degrees (NaN stays NaN, for the caller to reject)."""
    if not math.isfinite(value):
        return math.nan
    degrees = int(value / 100)
    return degrees + (value - degrees * 100) / 60


def valid_position(lat: float, lon: float) -> bool:
    return math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180


def _signed(value: float, ref: str, negative: str) -> float:
    return -value if ref == negative else value


# ---------------------------------------------------------------------------------------------------
# Binary layouts: a field map (name -> (offset, struct format)) per camera.

Fields = dict[str, tuple[int, str]]


def novatek_record(base: int) -> Fields:
    """The Novatek binary record starting at ``base``: time, status, DDMM.MMMM floats, knots, degrees."""
    return {
        "hour": (base, "<I"),
        "minute": (base + 4, "<I"),
        "second": (base + 8, "<I"),
        "year": (base + 12, "<I"),
        "month": (base + 16, "<I"),
        "day": (base + 20, "<I"),
        "status": (base + 24, "c"),
        "lat_ref": (base + 25, "c"),
        "lon_ref": (base + 26, "c"),
        "lat": (base + 28, "<f"),
        "lon": (base + 32, "<f"),
        "speed_knots": (base + 36, "<f"),
        "heading": (base + 40, "<f"),
        "accel_x": (base + 44, "<i"),
        "accel_y": (base + 48, "<i"),
        "accel_z": (base + 52, "<i"),
    }


@dataclass(frozen=True)
class BinaryLayout:
    """A fixed-offset record. Compiled once into a single ``struct`` call: decoding is per block, hot."""

    name: str
    cameras: str
    fields: Fields
    accel_scale: float = 1 / 256
    optional: tuple[str, ...] = ("accel_x", "accel_y", "accel_z")

    def __post_init__(self) -> None:
        fmt, names, pos = "<", [], 0
        for name, (offset, code) in sorted(self.fields.items(), key=lambda kv: kv[1][0]):
            code = code.lstrip("<")
            fmt += "x" * (offset - pos) + code
            names.append(name)
            pos = offset + struct.calcsize("<" + code)
        required = max(o + struct.calcsize(c) for n, (o, c) in self.fields.items() if n not in self.optional)
        object.__setattr__(self, "_struct", struct.Struct(fmt))
        object.__setattr__(self, "_names", tuple(names))
        object.__setattr__(self, "_required", required)
        object.__setattr__(self, "_status_at", self.fields["status"][0])

    def unpack(self, data: bytes) -> dict[str, Any] | None:
        """Field values, or None when the block is too short or has no status byte where this layout wants one."""
        if len(data) < self._required or data[self._status_at] not in b"AV":  # type: ignore[attr-defined]
            return None
        st: struct.Struct = self._struct  # type: ignore[attr-defined]
        if len(data) < st.size:
            data = data.ljust(st.size, b"\0")  # only optional fields (accelerometer) are missing
        values = st.unpack_from(data)
        return dict(zip(self._names, values, strict=True))  # type: ignore[attr-defined]


BINARY_LAYOUTS: list[BinaryLayout] = [
    BinaryLayout("novatek-0x10", "Viofo A119 v3, A129, A139, A119 Mini 2, A229", novatek_record(0x10)),
    BinaryLayout("novatek-0x30", "Viofo A119S, 2E Drive 730, SilverStone F1 A80", novatek_record(0x30)),
    BinaryLayout("novatek-0x40", "Kenwood DRV-A510W (48-byte longer header)", novatek_record(0x40)),
    BinaryLayout(
        "vantrue-doubles",
        "Vantrue N4 (doubles, date after the fix)",
        {
            "hour": (0x10, "<I"),
            "minute": (0x14, "<I"),
            "second": (0x18, "<I"),
            "status": (0x1C, "c"),
            "lat": (0x20, "<d"),
            "lat_ref": (0x28, "c"),
            "lon": (0x30, "<d"),
            "lon_ref": (0x38, "c"),
            "speed_knots": (0x40, "<d"),
            "heading": (0x48, "<d"),
            "year": (0x50, "<I"),
            "month": (0x54, "<I"),
            "day": (0x58, "<I"),
        },
    ),
]

# Cameras whose record moves inside the block (A119 Mini 2 / A229 firmwares): find "A[NS][EW]\0".
FLOATING_MARKER = re.compile(rb"A[NS][EW]\x00")


def _plausible_clock(v: dict[str, Any]) -> bool:
    year = v["year"]
    return (
        v["hour"] < 24
        and v["minute"] < 60
        and v["second"] < 61
        and (year < 100 or 2000 <= year < 2200)
        and v["month"] < 16
        and v["day"] < 40
    )


UNUSED_ACCEL = {(0, 0, 0), (0x20001, 0x40003, 0x60005)}  # zeros, or a 1..6 int16 counter some firmwares write


def _from_fields(layout: BinaryLayout, v: dict[str, Any]) -> BlockRecord | None:
    status, lat_ref, lon_ref = v["status"], v["lat_ref"], v["lon_ref"]
    if status == b"A":
        if lat_ref not in (b"N", b"S") or lon_ref not in (b"E", b"W"):
            return None
    elif status != b"V":
        return None
    if not _plausible_clock(v):
        return None
    year = v["year"]
    lat = lon = speed = heading = None
    accel = None
    if status == b"A":
        lat = ddmm_to_degrees(v["lat"]) * (-1 if lat_ref == b"S" else 1)
        lon = ddmm_to_degrees(v["lon"]) * (-1 if lon_ref == b"W" else 1)
        if not valid_position(lat, lon):
            status, lat, lon = b"V", None, None
        speed = v["speed_knots"] * KNOTS_TO_KMH
        heading = v["heading"]
        raw = (v.get("accel_x", 0), v.get("accel_y", 0), v.get("accel_z", 0))
        if raw not in UNUSED_ACCEL:
            accel = (raw[0] * layout.accel_scale, raw[1] * layout.accel_scale, raw[2] * layout.accel_scale)
    return BlockRecord(
        layout.name,
        "A" if status == b"A" else "V",
        year if year >= 2000 else year + 2000,
        v["month"],
        v["day"],
        v["hour"],
        v["minute"],
        v["second"],
        lat,
        lon,
        speed,
        heading,
        accel,
        year >= 2000,
    )


def _decode_binary(data: bytes) -> BlockRecord | None:
    for layout in BINARY_LAYOUTS:
        v = layout.unpack(data)
        if v is not None and (rec := _from_fields(layout, v)) is not None:
            return rec
    return None


def _decode_floating(data: bytes) -> BlockRecord | None:
    for m in FLOATING_MARKER.finditer(data, 12 + 24):
        layout = BinaryLayout(
            "novatek-floating", "Viofo A119 Mini 2 / A229 (record moves)", novatek_record(m.start() - 24)
        )
        v = layout.unpack(data)
        if v is not None and (rec := _from_fields(layout, v)) is not None:
            return rec
    return None


# ---------------------------------------------------------------------------------------------------
# Text layouts.

RMC = re.compile(
    rb"\$[A-Z]{2}RMC,(\d{2})(\d{2})(\d{2}(?:\.\d*)?),([AV]),(\d+\.\d+)?,([NS])?,(\d+\.\d+)?,([EW])?,"
    rb"(\d*\.?\d*),(\d*\.?\d*),(\d{2})(\d{2})(\d{2})"
)


def _decode_nmea(data: bytes) -> BlockRecord | None:
    """Nextbase 512GW, Vantrue N2X: an NMEA $xxRMC sentence somewhere in the block."""
    m = RMC.search(data)
    if m is None:
        return None
    hh, mi, ss, status, lat, ns, lon, ew, speed, track, dd, mo, yy = (
        g.decode() if g else "" for g in m.groups()
    )
    year = int(yy)
    has_fix = status == "A" and bool(lat) and bool(lon)
    return BlockRecord(
        layout="nmea-rmc",
        status="A" if has_fix else "V",
        year=year + (1900 if year >= 70 else 2000),
        month=int(mo),
        day=int(dd),
        hour=int(hh),
        minute=int(mi),
        second=float(ss),
        lat=_signed(ddmm_to_degrees(float(lat)), ns, "S") if has_fix else None,
        lon=_signed(ddmm_to_degrees(float(lon)), ew, "W") if has_fix else None,
        speed_kmh=float(speed) * KNOTS_TO_KMH if speed else None,
        heading=float(track) if track else None,
    )


XOR_TEXT_START = 18
XOR_TEXT = re.compile(
    rb"^.{8}(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2}).{16}([NS])(\d{8})([EW])(\d{9})(\d{8})?", re.S
)
XOR_EEEKIT_SPEED = re.compile(rb"^.{57}[-+]\d{4}(\d{3})", re.S)


def _decode_xor_text(data: bytes) -> BlockRecord | None:
    """EEEkit / Azdome: ASCII fields XOR-ed with 0xAA after byte 18 (DDMM.MMMM as digits, 1e-4 units)."""
    clear = bytes(b ^ 0xAA for b in data[XOR_TEXT_START : XOR_TEXT_START + 0x101])
    m = XOR_TEXT.match(clear)
    if m is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    ns, lat, ew, lon, azdome_speed = (g.decode() if g else "" for g in m.groups()[6:])
    speed: float | None = float(azdome_speed) if azdome_speed else None
    if speed is None and (sm := XOR_EEEKIT_SPEED.match(clear)):
        speed = float(sm.group(1))
    return BlockRecord(
        layout="xor-text",
        status="A",
        year=year,
        month=month,
        day=day,
        hour=hour,
        minute=minute,
        second=float(second),
        lat=_signed(ddmm_to_degrees(int(lat) / 1e4), ns, "S"),
        lon=_signed(ddmm_to_degrees(int(lon) / 1e4), ew, "W"),
        speed_kmh=speed,
    )


# Tried in order; the binary layouts check status and hemisphere bytes, so they rarely misfire.
DECODERS: list[tuple[str, Callable[[bytes], BlockRecord | None]]] = [
    ("binary", _decode_binary),
    ("xor-text", _decode_xor_text),
    ("nmea", _decode_nmea),
    ("floating", _decode_floating),
]


def decode_block(data: bytes) -> BlockRecord | None:
    """Decode one block (starting at its size field). None: nothing recognisable (all zero, unknown)."""
    data = data[:DECODE_BYTES]
    if len(data) < 12 or data[4:12] != BLOCK_MAGIC:
        return None
    for name, decoder in DECODERS:
        try:
            rec = decoder(data)
        except (ValueError, struct.error, OverflowError) as exc:  # a garbled block, not a reason to stop
            log.debug("freeGPS %s decoder rejected a block: %s", name, exc)
            continue
        if rec is not None:
            return rec
    return None
