"""GoPro GPMF GPS (the `gpmd` track of HERO5 and later): GPS5 and GPS9 samples with their time.

GPMF is key-length-value: a 4-character key, a type character, the size of one element, a big-endian
repeat count, then the data padded to 4 bytes. Type 0 nests. In each stream (STRM) the values of the last
entry are divided by the stream's SCAL (one divisor per field, or one for all), as ExifTool does; GPSU gives
the UTC time of the sample ("yymmddhhmmss.sss"). GPS9 (HERO13) carries days since 2000 and seconds per point.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from dashcam.gps.layouts.base import MPS_TO_KMH, BlockRecord, clock_of, fix

LAYOUT = "gopro-gpmf"
TYPES = {
    ord("b"): "b",
    ord("B"): "B",
    ord("s"): "h",
    ord("S"): "H",
    ord("l"): "i",
    ord("L"): "I",
    ord("f"): "f",
    ord("d"): "d",
    ord("j"): "q",
    ord("J"): "Q",
    ord("q"): "i",  # Q15.16 fixed point: scaled by callers that need it (GPS never uses it)
    ord("Q"): "q",
}
GPSU = re.compile(rb"(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2}(?:\.\d+)?)")
EPOCH_2000 = datetime(2000, 1, 1, tzinfo=timezone.utc)
MAX_DEPTH = 8


@dataclass(frozen=True)
class Klv:
    key: bytes
    type: int
    size: int
    repeat: int
    data: bytes


def klv(data: bytes, start: int = 0, end: int | None = None) -> Iterator[Klv]:
    """The entries laid out between ``start`` and ``end``; stops at a truncated or non-ASCII key."""
    end = len(data) if end is None else end
    pos = start
    while pos + 8 <= end:
        key, type_, size, repeat = struct.unpack_from(">4sBBH", data, pos)
        if key == b"\0\0\0\0" or not re.fullmatch(rb"[-_a-zA-Z0-9 ]{4}", key):
            return
        length = size * repeat
        if pos + 8 + length > end:
            return
        yield Klv(key, type_, size, repeat, data[pos + 8 : pos + 8 + length])
        pos += 8 + ((length + 3) & ~3)


def values(entry: Klv, structure: bytes | None = None) -> list[tuple[float, ...]]:
    """One tuple per repeat; for type '?' the fields follow ``structure`` (the stream's TYPE)."""
    if entry.type == ord("?"):
        if not structure or any(c not in TYPES for c in structure):
            return []
        fmt = ">" + "".join(TYPES[c] for c in structure)
    elif entry.type in TYPES:
        width = struct.calcsize(">" + TYPES[entry.type])
        if not width or entry.size % width:
            return []
        fmt = ">" + TYPES[entry.type] * (entry.size // width)
    else:
        return []
    step = struct.calcsize(fmt)
    if step > entry.size:
        return []
    return [struct.unpack_from(fmt, entry.data, i * entry.size) for i in range(entry.repeat)]


def _scaled(rows: list[tuple[float, ...]], scal: list[float]) -> list[tuple[float, ...]]:
    if not scal:
        return rows
    return [tuple(v / (scal[i % len(scal)] or 1) for i, v in enumerate(row)) for row in rows]


def _gpsu(entry: Klv) -> datetime | None:
    m = GPSU.match(entry.data)
    if m is None:
        return None
    yy, mo, dd, hh, mi = (int(g) for g in m.groups()[:5])
    try:
        return datetime(2000 + yy, mo, dd, hh, mi, tzinfo=timezone.utc) + timedelta(seconds=float(m.group(6)))
    except ValueError:
        return None


def _streams(data: bytes, start: int, end: int, depth: int = 0) -> Iterator[list[Klv]]:
    """The entries of every STRM (a flat list each), wherever DEVC / STRM nest them."""
    for entry in klv(data, start, end):
        if entry.type != 0 or depth >= MAX_DEPTH:
            continue
        inner = list(klv(entry.data))
        if entry.key == b"STRM":
            yield inner
        else:
            yield from _streams(entry.data, 0, len(entry.data), depth + 1)


GPS_KEYS = (b"GPS5", b"GPS9", b"GPSU")


def is_gpmf(data: bytes) -> bool:
    """The sample starts with a GPMF device container (DEVC), as every GoPro sample does."""
    first = next(klv(data), None)
    return first is not None and first.key == b"DEVC" and first.type == 0


def has_gps(data: bytes) -> bool:
    """A stream of the sample carries GPS (a GoPro without a GPS, or with it off, has only sensors)."""
    return any(entry.key in GPS_KEYS for stream in _streams(data, 0, len(data)) for entry in stream)


def sample_records(data: bytes, duration_s: float) -> list[tuple[float, BlockRecord]]:
    """(seconds after the sample's start, record) for every GPS point of one gpmd sample."""
    out: list[tuple[float, BlockRecord]] = []
    for stream in _streams(data, 0, len(data)):
        scal: list[float] = []
        structure: bytes | None = None
        when: datetime | None = None
        for entry in stream:
            if entry.key == b"SCAL":
                scal = [float(v) for row in values(entry) for v in row]
            elif entry.key == b"TYPE":
                structure = entry.data.rstrip(b"\0")
            elif entry.key == b"GPSU":
                when = _gpsu(entry)
            elif entry.key == b"GPS5":
                rows = _scaled(values(entry), scal)
                step = duration_s / len(rows) if rows else 0.0
                for k, row in enumerate(rows):
                    if len(row) < 4:
                        continue
                    at = when + timedelta(seconds=k * step) if when else None
                    rec = fix(
                        LAYOUT, clock_of(at) if at else None, row[0], row[1], speed_kmh=row[3] * MPS_TO_KMH
                    )
                    out.append((k * step, rec))
            elif entry.key == b"GPS9":
                rows = _scaled(values(entry, structure), scal)
                step = duration_s / len(rows) if rows else 0.0
                for k, row in enumerate(rows):
                    if len(row) < 7:
                        continue
                    at = EPOCH_2000 + timedelta(days=row[5], seconds=row[6])
                    rec = fix(LAYOUT, clock_of(at), row[0], row[1], speed_kmh=row[3] * MPS_TO_KMH)
                    out.append((k * step, rec))
    return out
