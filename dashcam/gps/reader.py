"""Read the freeGPS track of a Novatek dashcam MP4 with seeks only.

Blocks are found through the `gps ` index in moov when there is one (cost: one small read per block);
otherwise top-level ``free`` boxes are checked and mdat is scanned for the block marker. Every size and
offset is checked against the end of the file, so a hostile header cannot make us loop or allocate.
"""

from __future__ import annotations

import logging
import math
import os
import struct
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import BinaryIO

from dashcam.gps.layouts import BLOCK_MAGIC, DECODE_BYTES, BlockRecord, decode_block
from dashcam.gps.track import Fix, Track, distance_m, estimate_utc_offset, judge_clock
from dashcam.video.mp4box import Box, Mp4Error, children, file_size, iter_boxes, open_regular

log = logging.getLogger(__name__)

NO_NOVATEK_GPS = "no Novatek GPS"
NO_FIX = "GPS present but no fix"
TOP_LEVEL = {
    b"ftyp",
    b"moov",
    b"mdat",
    b"free",
    b"skip",
    b"wide",
    b"uuid",
    b"meta",
    b"moof",
    b"mfra",
    b"styp",
}
TOP_LEVEL |= {b"sidx", b"pnot", b"PICT", b"junk", b"pdin", b"prft", b"emsg"}
MAX_TOP_LEVEL_BOXES = 100_000  # a day of 1 Hz blocks stored as top-level boxes, with room to spare
MAX_INDEX_BYTES = 16 << 20  # two million blocks: far beyond any clip
MDAT_FIRST_BLOCK_WINDOW = 32 << 20  # Novatek writes the first block near the start of mdat
SCAN_CHUNK = 1 << 20
MAX_SPEED_KMH = 300.0  # a jump faster than this between fixes is a GPS spike, not a car
METRES_PER_DEGREE = 111_195.0


class GpsError(Exception):
    """The file cannot be read for GPS (the message says why, in one line)."""


class NoNovatekGps(GpsError):
    """Raised by callers that require GPS; :func:`read_track` itself returns an empty track instead."""


@dataclass(frozen=True)
class BlockRef:
    """Where block number ``t`` (its second of video) lies in the file."""

    t: int
    offset: int
    size: int


def _top_level(f: BinaryIO, size: int) -> list[Box]:
    try:
        boxes = iter_boxes(f, strict=False)
        first = next(boxes, None)
        if first is None:
            raise GpsError(f"{size} bytes is too small to be an MP4")
        if first.type not in TOP_LEVEL:
            raise GpsError(f"not an MP4: starts with {first.type!r} instead of an ftyp box")
        out = [first]
        for box in boxes:
            out.append(box)
            if len(out) > MAX_TOP_LEVEL_BOXES:
                raise GpsError(f"more than {MAX_TOP_LEVEL_BOXES} top-level boxes: not a dashcam MP4")
        return out
    except Mp4Error as exc:
        raise GpsError(f"not a readable MP4: {exc}") from exc


def _index_refs(f: BinaryIO, moov: Box, size: int) -> list[BlockRef] | None:
    """Entries of the `gps ` box in moov, or None when there is none. Counts are clamped to the box."""
    try:
        gps = next((b for b in children(f, moov, strict=False) if b.type == b"gps "), None)
    except Mp4Error as exc:
        log.warning("damaged moov, looking for GPS blocks by scanning: %s", exc)
        return None
    if gps is None or gps.payload_size < 8:
        return None
    length = min(gps.payload_size, MAX_INDEX_BYTES)
    f.seek(gps.payload_offset)
    payload = f.read(length)
    (count,) = struct.unpack_from(">I", payload, 4) if len(payload) >= 8 else (0,)
    fits = (len(payload) - 8) // 8
    if count > fits:
        log.warning("`gps ` index claims %d entries but holds %d: using those", count, fits)
        count = fits
    pairs = struct.iter_unpack(">II", payload[8 : 8 + 8 * count])
    refs = [
        BlockRef(i, offset, block_size) for i, (offset, block_size) in enumerate(pairs) if offset + 12 <= size
    ]
    if len(refs) < count:
        log.debug("%d `gps ` entries point past the end of the file", count - len(refs))
    return refs


def _scan_refs(f: BinaryIO, boxes: list[Box], size: int) -> list[BlockRef]:
    """Blocks without an index: top-level ``free`` boxes holding ``GPS ``, then markers inside mdat."""
    found: list[int] = []
    for box in boxes:
        if box.type == b"free" and box.payload_size >= 8:
            f.seek(box.payload_offset)
            head = f.read(8)
            if head[:4] == b"GPS ":
                found.append(box.offset)
            elif head == BLOCK_MAGIC:  # a block wrapped whole in its own free box
                found.append(box.payload_offset - 4)
        elif box.type == b"mdat":
            found.extend(_scan_mdat(f, box))
    return [BlockRef(i, off, DECODE_BYTES) for i, off in enumerate(found) if off + 12 <= size]


def _scan_mdat(f: BinaryIO, mdat: Box) -> list[int]:
    """Offsets of blocks inside mdat, streamed in bounded chunks.

    Without an index there is no way to know where blocks lie short of reading mdat, so this is the one
    path whose cost grows with the file. Like ExifTool, give up when the first MDAT_FIRST_BLOCK_WINDOW
    bytes hold no block: cameras write the first block within the first seconds of video.
    """
    out: list[int] = []
    pos, end, tail = mdat.payload_offset, mdat.end, b""
    while pos < end:
        if not out and pos - mdat.payload_offset > MDAT_FIRST_BLOCK_WINDOW:
            break
        f.seek(pos)
        chunk = f.read(min(SCAN_CHUNK, end - pos))
        if not chunk:
            break
        buf, base = tail + chunk, pos - len(tail)
        i = buf.find(BLOCK_MAGIC)
        while i >= 0:
            if i >= 4 and (not out or base + i - 4 >= out[-1] + 12):
                out.append(base + i - 4)
            i = buf.find(BLOCK_MAGIC, i + 1)
        tail = buf[-(len(BLOCK_MAGIC) + 3) :]
        pos += len(chunk)
    return out


def _read_records(f: BinaryIO, refs: list[BlockRef]) -> list[tuple[int, BlockRecord | None]]:
    out: list[tuple[int, BlockRecord | None]] = []
    fd = f.fileno()
    for ref in refs:
        data = os.pread(fd, min(max(ref.size, 12), DECODE_BYTES), ref.offset)  # one syscall, no seek
        if data[4:12] != BLOCK_MAGIC:
            log.debug("`gps ` entry %d does not point at a freeGPS block", ref.t)
            out.append((ref.t, None))
            continue
        out.append((ref.t, decode_block(data)))
    return out


def _drop_spikes(points: list[Fix]) -> list[Fix]:
    """Remove fixes that imply a speed no car reaches, when their neighbours agree with each other."""

    def too_fast(a: Fix, b: Fix) -> bool:
        limit_m = MAX_SPEED_KMH / 3.6 * max(abs(b.t - a.t), 1.0)
        # Cheap flat-earth bound first (per point, on hour-long tracks); haversine only near the limit.
        dy = (b.lat - a.lat) * METRES_PER_DEGREE
        dx = (b.lon - a.lon) * METRES_PER_DEGREE * math.cos(math.radians(a.lat))
        if dx * dx + dy * dy < 0.25 * limit_m * limit_m:
            return False
        return distance_m(a.lat, a.lon, b.lat, b.lon) > limit_m

    keep: list[Fix] = []
    n = len(points)
    for i, p in enumerate(points):
        prev = keep[-1] if keep else None
        nxt = points[i + 1] if i + 1 < n else None
        after = points[i + 2] if i + 2 < n else None
        if (
            prev is not None
            and too_fast(prev, p)
            and (nxt is None or (too_fast(p, nxt) and not too_fast(prev, nxt)))  # its neighbours agree
        ):
            log.debug("dropping GPS spike at t=%s (%.6f, %.6f)", p.t, p.lat, p.lon)
            continue
        if (
            prev is None
            and nxt is not None
            and after is not None
            and too_fast(p, nxt)
            and not too_fast(nxt, after)
        ):
            log.debug("dropping GPS spike at the start, t=%s", p.t)
            continue
        keep.append(p)
    return keep


def build_track(
    records: list[tuple[int, BlockRecord | None]],
    *,
    source: str,
    local_start: datetime | None = None,
    path: str | None = None,
) -> Track:
    """Turn decoded blocks into a track: gaps, invalid dates, duplicates, spikes, camera clock."""
    no_fix_clock: list[tuple[float, datetime]] = []
    fixes: list[tuple[float, datetime, BlockRecord]] = []
    layouts: set[str] = set()
    for t, rec in records:
        if rec is None:
            continue
        layouts.add(rec.layout)
        when = rec.time_utc()
        if when is None:
            log.debug("block %d has an impossible date, skipped", t)
            continue
        if rec.has_fix:
            fixes.append((float(t), when, rec))
        else:
            no_fix_clock.append((float(t), when))

    verdict = judge_clock(no_fix_clock, [(t, w) for t, w, _ in fixes if w])
    shift = timedelta(seconds=verdict.offset_s if verdict.local_time_as_utc and verdict.offset_s else 0)
    points: list[Fix] = []
    for vt, when, rec in fixes:
        assert rec.lat is not None and rec.lon is not None
        fix = Fix(vt, when - shift if when else None, rec.lat, rec.lon, rec.speed_kmh, rec.heading)
        last = points[-1] if points else None
        if last and (last.time_utc, last.lat, last.lon) == (fix.time_utc, fix.lat, fix.lon):
            continue  # the camera repeated the previous fix
        points.append(fix)
    points = _drop_spikes(points)

    offset = verdict.offset_s if verdict.local_time_as_utc else None
    if offset is None and local_start is not None:
        anchor = next(((p.t, p.time_utc) for p in points if p.time_utc), None) or (
            no_fix_clock[0] if no_fix_clock else None
        )
        if anchor is not None:
            assert anchor[1] is not None
            offset = estimate_utc_offset(local_start, anchor[1], anchor[0])
    reason = None
    if not points:
        reason = NO_FIX if records else NO_NOVATEK_GPS
    return Track(
        points=points,
        source=source if records else None,
        reason=reason,
        layout=",".join(sorted(layouts)) or None,
        blocks=len(records),
        utc_offset_s=offset,
        local_time_as_utc=verdict.local_time_as_utc,
        clock_jump_s=verdict.jump_s,
        path=path,
    )


def read_track(path: str | os.PathLike[str], *, local_start: datetime | None = None) -> Track:
    """The GPS track of one clip. Empty (``reason`` set) for a clip without Novatek GPS.

    ``local_start`` is the camera's local wall-clock time at the start of the clip (from its file name);
    with it the camera's UTC offset is estimated. Raises :class:`GpsError` for a file that is not a
    readable MP4.
    """
    try:
        # Unbuffered: a buffered reader would fetch 8 KiB around every 1 KiB block read.
        f = open_regular(path, buffering=0)  # a FIFO or a device is refused, never waited on
    except OSError as exc:
        raise GpsError(f"cannot open: {exc.strerror or exc}") from exc
    with f:
        size = file_size(f)
        if size == 0:
            raise GpsError("empty file (0 bytes)")
        boxes = _top_level(f, size)
        moov = next((b for b in boxes if b.type == b"moov"), None)
        refs = _index_refs(f, moov, size) if moov is not None else None
        source = "gps-index"
        if not refs:
            refs, source = _scan_refs(f, boxes, size), "scan"
        if not refs and moov is None:
            raise GpsError("not a readable MP4: no moov box (recording unfinished or file truncated)")
        records = _read_records(f, refs)
    track = build_track(records, source=source, local_start=local_start, path=os.fspath(path))
    log.debug("%s: %d blocks via %s, %d fixes", path, len(records), source, len(track.points))
    return track
