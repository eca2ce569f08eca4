"""Read the GPS track of a dashcam clip, whichever of the known places the camera wrote it to.

In order: freeGPS blocks (Novatek and the many cameras sharing its `gps ` index, see
:mod:`dashcam.gps.layouts`), a `gpmd` (GoPro GPMF, or a dashcam's own samples) or Google `camm` metadata
track, an NMEA log (BlackVue's `gps ` box in its `free` box, Datakam's `udta/udat`), and the top-level
`GPS ` (70mai), `gps0` (DuDuBell, VSYS) and `gdat` (Nextbase software) boxes. The first source that gives
points is the track; when none does, the most telling reason is kept: a block no layout recognised beats
"no fix", which beats "no GPS track".
"""

from __future__ import annotations

import logging
import os
import struct
from datetime import datetime
from typing import BinaryIO

from dashcam.gps import gpmdcams, gpmf, streams
from dashcam.gps.assemble import NO_FIX, NO_GPS, NO_NOVATEK_GPS, Problem, build_track
from dashcam.gps.freegps import Found, held_back, index_refs, kodak_version, read_blocks, scan_refs
from dashcam.gps.layouts import BlockContext, BlockRecord, LayoutUnsupported
from dashcam.gps.samples import creation_unix, meta_tracks, samples
from dashcam.gps.track import Track
from dashcam.video.mp4box import Box, Mp4Error, children, file_size, iter_boxes, open_regular

__all__ = ["NO_FIX", "NO_GPS", "NO_NOVATEK_GPS", "GpsError", "NoNovatekGps", "build_track", "read_track"]

log = logging.getLogger(__name__)

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
MAX_SAMPLE_BYTES = 1 << 20  # a gpmd / camm sample is a few KiB
MAX_LOG_BYTES = 16 << 20  # an NMEA log of a few hours
PITTASOFT_TAGS = {b"cprt", b"sttm", b"ptnm", b"ptrh", b"thum", b"gps ", b"3gf "}


class GpsError(Exception):
    """The file cannot be read for GPS (the message says why, in one line)."""


class NoNovatekGps(GpsError):
    """Raised by callers that require GPS; :func:`read_track` itself returns an empty track instead."""


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


def _read(f: BinaryIO, offset: int, length: int) -> bytes:
    return os.pread(f.fileno(), length, offset)


def _sample_pairs(
    data: bytes, track_format: bytes, duration_s: float, ctx: BlockContext, created: float | None
) -> list[tuple[float, BlockRecord]] | None:
    """(seconds into the sample, record) pairs of one `gpmd` / `camm` sample; None: it holds no GPS."""
    if track_format == b"gpmd":
        recs = gpmdcams.sample_records(data, ctx)
        if recs is None:
            if not gpmf.is_gpmf(data):
                raise LayoutUnsupported("a `gpmd` sample that is neither GoPro GPMF nor a known dashcam's")
            return gpmf.sample_records(data, duration_s) if gpmf.has_gps(data) else None
    else:
        recs = streams.camm_records(data, created)
    return [(r.dt if r.dt is not None else k * duration_s / len(recs), r) for k, r in enumerate(recs)]


def _metadata_tracks(f: BinaryIO, moov: Box) -> list[Found]:
    """`gpmd` (GoPro GPMF, or a dashcam's own format) and Google `camm` tracks, placed at their play time."""
    out: list[Found] = []
    created = creation_unix(f, moov)
    for track in meta_tracks(f, moov):
        if track.format not in (b"gpmd", b"camm") and track.handler != b"camm":
            continue
        fmt = b"gpmd" if track.format == b"gpmd" else b"camm"
        table = samples(f, track)
        found = Found(fmt.decode())
        ctx = BlockContext()
        for sample in table:
            data = _read(f, sample.offset, min(sample.size, MAX_SAMPLE_BYTES))
            ctx.t, ctx.offset = sample.time_s, sample.offset
            try:
                pairs = _sample_pairs(data, fmt, sample.duration_s, ctx, created)
            except LayoutUnsupported as exc:
                found.problems.append(Problem(sample.offset, data[:32], str(exc)))
                continue
            if pairs is None:
                continue  # sensors only: not a GPS sample
            found.blocks += 1
            for dt, rec in pairs:
                found.records.append((sample.time_s + dt, rec))
                if rec.layout not in found.examples:
                    found.examples[rec.layout] = Problem(sample.offset, data[:32])
        if (problem := held_back(ctx, f.fileno())) is not None:
            found.problems.append(problem)
        out.append(found)
    return out


def _nmea_logs(f: BinaryIO, boxes: list[Box], moov: Box | None) -> list[Found]:
    """NMEA text in BlackVue's `free` box (with its `sttm` start time) or a `gps ` / `udta/udat` box."""
    texts: list[tuple[bytes, int | None]] = []
    for box in boxes:
        if box.type != b"free" or box.payload_size < 8:
            continue
        if _read(f, box.payload_offset + 4, 4) not in PITTASOFT_TAGS:
            continue
        inner = {b.type: b for b in children(f, box, strict=False)}
        start = None
        if (sttm := inner.get(b"sttm")) is not None and sttm.payload_size >= 8:
            start = struct.unpack(">Q", _read(f, sttm.payload_offset, 8))[0]
        if (gps := inner.get(b"gps ")) is not None:
            texts.append((_read(f, gps.payload_offset, min(gps.payload_size, MAX_LOG_BYTES)), start))
    places = [b for b in boxes if b.type == b"gps "]
    if moov is not None:
        for child in children(f, moov, strict=False):
            if child.type == b"gps ":
                places.append(child)
            elif child.type == b"udta":
                places += [b for b in children(f, child, strict=False) if b.type == b"udat"]
    for box in places:
        text = _read(f, box.payload_offset, min(box.payload_size, MAX_LOG_BYTES))
        if streams.looks_like_nmea(text):
            texts.append((text, None))
    out = []
    for text, start in texts:
        found = Found("nmea-log", blocks=1)
        found.records = streams.nmea_log_records(text.rstrip(b"\0"), start)
        found.examples["nmea-log"] = Problem(0, text[:32])
        out.append(found)
    return out


def _top_level_logs(f: BinaryIO, boxes: list[Box]) -> list[Found]:
    """70mai's `GPS ` box, the DuDuBell / VSYS `gps0` box, Nextbase software's `gdat` box."""
    out = []
    for box in boxes:
        if box.type not in (b"GPS ", b"gps0", b"gdat") or box.payload_size < 32:
            continue
        data = _read(f, box.payload_offset, min(box.payload_size, MAX_LOG_BYTES))
        found = Found(box.type.decode().strip().lower() + "-box", blocks=1)
        if box.type == b"GPS ":
            found.source = "70mai-gps-box"
            found.records = streams.mai70_box_records(data)
        elif box.type == b"gdat":
            found.records = streams.gdat_records(data)
        elif (records := streams.gps0_records(data)) is not None:
            found.records = records
        else:
            found.problems.append(Problem(box.offset, data[:32], "encrypted `gps0` text (Lamax S9)"))
        for _, rec in found.records[:1]:
            found.examples[rec.layout] = Problem(box.offset, data[:32])
        out.append(found)
    return out


def _sources(f: BinaryIO, size: int, boxes: list[Box]) -> list[Found]:
    moov = next((b for b in boxes if b.type == b"moov"), None)
    refs = index_refs(f, moov, size) if moov is not None else None
    source = "gps-index"
    if not refs:
        refs, source = scan_refs(f, boxes, size), "scan"
    if not refs and moov is None:
        raise GpsError("not a readable MP4: no moov box (recording unfinished or file truncated)")
    found = [read_blocks(f, refs, source, BlockContext(kodak_version(f, boxes)))] if refs else []
    try:
        if moov is not None:
            found += _metadata_tracks(f, moov)
        found += _nmea_logs(f, boxes, moov)
        found += _top_level_logs(f, boxes)
    except Mp4Error as exc:
        log.warning("damaged metadata boxes, GPS from freeGPS blocks only: %s", exc)
    return found


def read_track(path: str | os.PathLike[str], *, local_start: datetime | None = None) -> Track:
    """The GPS track of one clip. Empty (``reason`` set) for a clip without a readable GPS track.

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
        found = _sources(f, size, _top_level(f, size))
    tracks = [
        build_track(
            x.records,
            source=x.source,
            local_start=local_start,
            path=os.fspath(path),
            problems=x.problems,
            blocks=x.blocks,
            first_offset=x.examples,
        )
        for x in found
    ]
    track = next((t for t in tracks if t.points), None)
    if track is None:
        rank = {NO_GPS: 0, NO_FIX: 1}
        track = max(tracks, key=lambda t: rank.get(t.reason or "", 2), default=None)
    if track is None:
        track = build_track([], source="", path=os.fspath(path))
    log.debug("%s: %d blocks via %s, %d fixes", path, track.blocks, track.source, len(track.points))
    return track
