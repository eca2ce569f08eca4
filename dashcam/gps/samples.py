"""The samples of a timed-metadata track (GoPro `gpmd`, Google `camm`): where each lies, when it plays.

Reads only moov: the handler, the first sample description's format, the media timescale and the sample
tables (stts, stsc, stsz/stz2, stco/co64). Counts are clamped to what their boxes hold, so a hostile
header cannot make us allocate or loop beyond the size of moov.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from dashcam.video.mp4box import Box, Mp4Error, children, read_payload

MAX_TABLE_BYTES = 64 << 20
MAX_SAMPLES = 1 << 18  # three days of 1 s samples; a hostile table claims billions
QUICKTIME_EPOCH_TO_UNIX = (66 * 365 + 17) * 24 * 3600  # 1904-01-01 -> 1970-01-01


@dataclass(frozen=True)
class Sample:
    offset: int
    size: int
    time_s: float  # decode time from the start of the track
    duration_s: float


@dataclass(frozen=True)
class MetaTrack:
    handler: bytes  # hdlr handler type: b"meta", b"camm", ...
    format: bytes  # the first sample description's format: b"gpmd", b"camm", ...
    trak: Box
    stbl: Box | None
    timescale: int


def _child(f: BinaryIO, box: Box, kind: bytes) -> Box | None:
    return next((b for b in children(f, box, strict=False) if b.type == kind), None)


def _payload(f: BinaryIO, box: Box | None) -> bytes:
    return read_payload(f, box, MAX_TABLE_BYTES) if box is not None else b""


def meta_tracks(f: BinaryIO, moov: Box) -> Iterator[MetaTrack]:
    """Every trak of moov with its handler and sample format (video and sound included: callers filter)."""
    for trak in children(f, moov, strict=False):
        if trak.type != b"trak":
            continue
        mdia = _child(f, trak, b"mdia")
        if mdia is None:
            continue
        hdlr = _payload(f, _child(f, mdia, b"hdlr"))
        mdhd = _payload(f, _child(f, mdia, b"mdhd"))
        minf = _child(f, mdia, b"minf")
        stbl = _child(f, minf, b"stbl") if minf is not None else None
        stsd = _payload(f, _child(f, stbl, b"stsd")) if stbl is not None else b""
        if len(mdhd) >= 24:
            at = 20 if mdhd[0] == 1 else 12  # version 1 has 64-bit creation / modification times
            timescale = struct.unpack_from(">I", mdhd, at)[0]
        else:
            timescale = 0
        yield MetaTrack(
            handler=hdlr[8:12] if len(hdlr) >= 12 else b"",
            format=stsd[12:16] if len(stsd) >= 16 else b"",
            trak=trak,
            stbl=stbl,
            timescale=timescale,
        )


def _counted(payload: bytes, width: int, header: int = 8) -> tuple[int, int]:
    """(count, first byte) of a full box's table, the count clamped to the entries its payload holds."""
    if len(payload) < header:
        return 0, header
    count = struct.unpack_from(">I", payload, 4)[0]
    return min(count, (len(payload) - header) // width), header


def samples(f: BinaryIO, track: MetaTrack) -> list[Sample]:
    """Offset, size, time and duration of each sample (empty for a track without usable tables)."""
    if track.stbl is None:
        return []
    boxes = {b.type: b for b in children(f, track.stbl, strict=False)}
    try:
        stts, stsc = _payload(f, boxes.get(b"stts")), _payload(f, boxes.get(b"stsc"))
        stsz = _payload(f, boxes.get(b"stsz") or boxes.get(b"stz2"))
        co64 = b"co64" in boxes and b"stco" not in boxes
        stco = _payload(f, boxes.get(b"co64" if co64 else b"stco"))
    except Mp4Error:
        return []
    sizes = _sizes(stsz, boxes.get(b"stz2") is not None and b"stsz" not in boxes)
    n, at = _counted(stco, 8 if co64 else 4)
    chunks = list(struct.unpack_from(f">{n}{'Q' if co64 else 'I'}", stco, at))
    n, at = _counted(stsc, 12)
    runs = [struct.unpack_from(">III", stsc, at + 12 * i) for i in range(n)]
    n, at = _counted(stts, 8)
    deltas = [struct.unpack_from(">II", stts, at + 8 * i) for i in range(n)]
    scale = float(track.timescale or 1)

    out: list[Sample] = []
    times = _times(deltas, len(sizes))
    k = 0
    for r, (first, per_chunk, _) in enumerate(runs):
        last = runs[r + 1][0] - 1 if r + 1 < len(runs) else len(chunks)
        for chunk in range(max(first, 1), min(last, len(chunks)) + 1):
            pos = chunks[chunk - 1]
            for _ in range(per_chunk):
                if k >= len(sizes):
                    return out
                start, dur = times[k] if k < len(times) else (0, 0)
                out.append(Sample(pos, sizes[k], start / scale, dur / scale))
                pos += sizes[k]
                k += 1
    return out


def _sizes(stsz: bytes, compact: bool) -> list[int]:
    if len(stsz) < 12:
        return []
    if compact:
        field = stsz[7]
        count = struct.unpack_from(">I", stsz, 8)[0]
        if field == 16:
            count = min(count, (len(stsz) - 12) // 2)
            return list(struct.unpack_from(f">{count}H", stsz, 12))
        if field == 8:
            return list(stsz[12 : 12 + count])
        nibbles = [n for b in stsz[12:] for n in (b >> 4, b & 0x0F)]
        return nibbles[:count]
    fixed, count = struct.unpack_from(">II", stsz, 4)
    if fixed:
        return [fixed] * min(count, MAX_SAMPLES)
    count = min(count, (len(stsz) - 12) // 4, MAX_SAMPLES)
    return list(struct.unpack_from(f">{count}I", stsz, 12))


def _times(deltas: list[tuple[int, int]], n: int) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    now = 0
    for count, delta in deltas:
        for _ in range(min(count, n - len(out))):
            out.append((now, delta))
            now += delta
        if len(out) >= n:
            break
    return out


def creation_unix(f: BinaryIO, moov: Box) -> float | None:
    """mvhd's creation time as Unix seconds (None when unset), as ExifTool's CreateDate."""
    mvhd = _child(f, moov, b"mvhd")
    data = _payload(f, mvhd)[:12] if mvhd is not None and mvhd.payload_size <= 256 else b""
    if len(data) < 8:
        return None
    value = (
        struct.unpack_from(">Q", data, 4)[0]
        if data[0] == 1 and len(data) >= 12
        else struct.unpack_from(">I", data, 4)[0]
    )
    if not value:
        return None
    return float(value - QUICKTIME_EPOCH_TO_UNIX if value >= QUICKTIME_EPOCH_TO_UNIX else value)
