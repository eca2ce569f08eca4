"""Write freeGPS blocks and a `gps ` index the way a Viofo A129 does, to make footage with a known route.

Blocks are appended after the existing boxes (each block is itself a valid ``free`` box, so the file stays
a well-formed MP4) and the index goes into moov, right after mvhd. When moov sits before mdat (fast start), every
chunk offset behind it is shifted by the growth of moov, so the video stays playable.
"""

from __future__ import annotations

import logging
import math
import os
import struct
from collections.abc import Iterable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

from dashcam.gps.layouts import KNOTS_TO_KMH
from dashcam.gps.track import Fix
from dashcam.video.mp4box import CONTAINERS, Box, Mp4Error, iter_boxes, read_payload

log = logging.getLogger(__name__)

A129_BLOCK_SIZE = 0x4000
A129_HEADER_WORD = 0x3F0  # the value real A119 v3 / A129 blocks carry at 0x0c
MAX_MOOV_BYTES = 256 << 20


def _ddmm(value: float) -> float:
    degrees = int(abs(value))
    return degrees * 100 + (abs(value) - degrees) * 60


def encode_block(fix: Fix | None, *, size: int = A129_BLOCK_SIZE) -> bytes:
    """One A129-layout block (size field, ``freeGPS ``, record at 0x10), zero-padded to ``size``.

    ``None`` or a fix without a time gives a no-fix block (status V, clock fields zero).
    """
    if size < 0x48:
        raise ValueError(f"block size {size} is smaller than the 0x48-byte record")
    head = struct.pack(">I4s4s", size, b"free", b"GPS ") + struct.pack("<I", A129_HEADER_WORD)
    if fix is None or fix.time_utc is None:
        record = struct.pack("<6I4s", 0, 0, 0, 0, 0, 0, b"V\0\0\0") + bytes(16)
    else:
        when = (fix.time_utc + timedelta(microseconds=500_000)).replace(microsecond=0)  # whole seconds only
        refs = b"A" + (b"S" if fix.lat < 0 else b"N") + (b"W" if fix.lon < 0 else b"E") + b"\0"
        record = struct.pack(
            "<6I4s4f",
            when.hour,
            when.minute,
            when.second,
            when.year - 2000,
            when.month,
            when.day,
            refs,
            _ddmm(fix.lat),
            _ddmm(fix.lon),
            (fix.speed_kmh or 0.0) / KNOTS_TO_KMH,
            (fix.heading or 0.0) % 360.0,
        )
    block = head + record + bytes(12)  # accelerometer x, y, z: not simulated
    return block + bytes(size - len(block))


def blocks_for(fixes: Iterable[Fix]) -> list[Fix | None]:
    """One slot per video second (``round(fix.t)``); seconds without a fix become no-fix blocks."""
    slots: dict[int, Fix] = {}
    for fix in fixes:
        if fix.t < 0 or not math.isfinite(fix.t):
            raise ValueError(f"fix time t={fix.t} is not a video second")
        slots[round(fix.t)] = fix
    if not slots:
        return []
    return [slots.get(i) for i in range(max(slots) + 1)]


def gps_index_box(entries: Sequence[tuple[int, int]]) -> bytes:
    """The `gps ` box: version word, big-endian count, then (offset, size) per block."""
    body = struct.pack(">II", 0x101, len(entries)) + b"".join(struct.pack(">II", o, s) for o, s in entries)
    if any(o > 0xFFFFFFFF for o, _ in entries):
        raise ValueError("a freeGPS block lies beyond 4 GiB, which the 32-bit `gps ` index cannot address")
    return struct.pack(">I4s", 8 + len(body), b"gps ") + body


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def mvhd_box(duration_s: int = 0, timescale: int = 1000) -> bytes:
    matrix = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    payload = struct.pack(">I4I", 0, 0, 0, timescale, duration_s * timescale)
    payload += struct.pack(">IH10x", 0x10000, 0x100) + matrix + bytes(24) + struct.pack(">I", 2)
    return _box(b"mvhd", payload)


FTYP = _box(b"ftyp", b"isom" + struct.pack(">I", 0x200) + b"isomavc1mp41")


def wrap_blocks(blocks: Sequence[bytes], dst: str | os.PathLike[str]) -> None:
    """A minimal MP4 holding raw blocks: ftyp, mdat with the blocks, moov with mvhd and a `gps ` index.

    Blocks may be shorter than the size they declare (dumps); the index records their real length.
    """
    entries, pos = [], len(FTYP) + 8
    for block in blocks:
        entries.append((pos, len(block)))
        pos += len(block)
    mdat = _box(b"mdat", b"".join(blocks))
    moov = _box(b"moov", mvhd_box(len(blocks)) + gps_index_box(entries))
    Path(dst).write_bytes(FTYP + mdat + moov)


def _full(kind: bytes, payload: bytes) -> bytes:
    return _box(kind, b"\0\0\0\0" + payload)  # version 0, no flags


def wrap_samples(
    samples: Sequence[bytes],
    dst: str | os.PathLike[str],
    *,
    fmt: bytes,
    handler: bytes = b"meta",
    sample_ms: int = 1000,
    top_level: bytes = b"",
) -> None:
    """A minimal MP4 with one timed-metadata track (Google `camm`, GoPro `gpmd`): one sample per chunk,
    ``sample_ms`` apart. ``top_level``: boxes to put before mdat (a `frea`, a BlackVue `free`)."""
    head = FTYP + top_level
    offsets, pos = [], len(head) + 8
    for sample in samples:
        offsets.append(pos)
        pos += len(sample)
    n = len(samples)
    stsd = _full(b"stsd", struct.pack(">I", 1) + _box(fmt, bytes(6) + struct.pack(">H", 1)))
    stbl = _box(
        b"stbl",
        stsd
        + _full(b"stts", struct.pack(">III", 1, n, sample_ms))
        + _full(b"stsc", struct.pack(">IIII", 1, 1, 1, 1))
        + _full(b"stsz", struct.pack(">II", 0, n) + b"".join(struct.pack(">I", len(s)) for s in samples))
        + _full(b"stco", struct.pack(">I", n) + b"".join(struct.pack(">I", o) for o in offsets)),
    )
    mdhd = _full(b"mdhd", struct.pack(">IIIIHH", 0, 0, 1000, n * sample_ms, 0x55C4, 0))
    hdlr = _full(b"hdlr", struct.pack(">I4s12x", 0, handler) + b"GPS\0")
    tkhd = _box(b"tkhd", struct.pack(">B3xIIII", 0, 0, 0, 2, 0) + bytes(64))
    trak = _box(b"trak", tkhd + _box(b"mdia", mdhd + hdlr + _box(b"minf", _full(b"nmhd", b"") + stbl)))
    mdat = _box(b"mdat", b"".join(samples))
    Path(dst).write_bytes(head + mdat + _box(b"moov", mvhd_box(n * sample_ms // 1000) + trak))


def write_sparse_clip(
    dst: str | os.PathLike[str], fixes: Iterable[Fix], *, mdat_bytes: int, block_size: int = A129_BLOCK_SIZE
) -> int:
    """A clip-sized MP4 without video: one block per second spread evenly through a sparse mdat.

    The holes between blocks stand for the video a camera interleaves; they take no disk space. Returns
    the file size.
    """
    slots = blocks_for(fixes)
    n = len(slots)
    stride = max(block_size, (mdat_bytes // max(n, 1)) // 4096 * 4096)
    # A 64-bit size only when needed: ExifTool stops at a 64-bit box unless LargeFileSupport is on.
    mdat_header = 8 if 8 + max(mdat_bytes, n * stride + block_size) <= 0xFFFFFFFF else 16
    start = len(FTYP) + mdat_header
    entries = [(start + i * stride, block_size) for i in range(n)]
    mdat_size = mdat_header + max(mdat_bytes, n * stride + block_size)
    with open(dst, "wb") as f:
        if mdat_header == 8:
            f.write(FTYP + struct.pack(">I4s", mdat_size, b"mdat"))
        else:
            f.write(FTYP + struct.pack(">I4sQ", 1, b"mdat", mdat_size))
        for (offset, _), fix in zip(entries, slots, strict=True):
            f.seek(offset)
            f.write(encode_block(fix, size=block_size))
        f.seek(len(FTYP) + mdat_size)
        f.write(_box(b"moov", mvhd_box(n) + gps_index_box(entries)))
        return f.tell()


def _patch_chunk_offsets(buf: bytearray, start: int, end: int, after: int, delta: int) -> None:
    """Shift stco/co64 entries that point at or after ``after`` by ``delta`` (in a moov held in memory)."""
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", buf, pos)
        header = 8
        if size == 1:
            size, header = struct.unpack_from(">Q", buf, pos + 8)[0], 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise Mp4Error(f"damaged {kind!r} box inside moov at {pos}")
        body = pos + header
        if kind in CONTAINERS and kind != b"meta":
            _patch_chunk_offsets(buf, body, pos + size, after, delta)
        elif kind in (b"stco", b"co64"):
            fmt = ">I" if kind == b"stco" else ">Q"
            width = struct.calcsize(fmt)
            (count,) = struct.unpack_from(">I", buf, body + 4)
            if body + 8 + count * width > pos + size:
                raise Mp4Error(f"{kind.decode()} claims {count} entries, more than its box holds")
            for i in range(count):
                at = body + 8 + i * width
                (value,) = struct.unpack_from(fmt, buf, at)
                if value >= after:
                    if kind == b"stco" and value + delta > 0xFFFFFFFF:
                        raise Mp4Error("moving moov pushes a chunk past 4 GiB (stco would need co64)")
                    struct.pack_into(fmt, buf, at, value + delta)
        pos += size


def _copy_range(src: BinaryIO, dst: BinaryIO, offset: int, length: int) -> None:
    src.seek(offset)
    remaining = length
    while remaining:
        chunk = src.read(min(remaining, 8 << 20))
        if not chunk:
            raise Mp4Error("source file shrank while being copied")
        dst.write(chunk)
        remaining -= len(chunk)


def write_gps(
    src_mp4: str | os.PathLike[str],
    dst_mp4: str | os.PathLike[str],
    fixes: Iterable[Fix],
    *,
    block_size: int = A129_BLOCK_SIZE,
) -> int:
    """Copy ``src_mp4`` to ``dst_mp4`` with one freeGPS block per video second and a `gps ` index.

    Fix ``t`` picks the block (second) it goes in; seconds without a fix get a no-fix block. An existing
    `gps ` index is replaced. Returns the number of blocks written.
    """
    slots = blocks_for(fixes)
    tmp = Path(f"{os.fspath(dst_mp4)}.part")
    with open(src_mp4, "rb") as src:
        boxes: list[Box] = list(iter_boxes(src, strict=True))
        moov = next((b for b in boxes if b.type == b"moov"), None)
        if moov is None:
            raise Mp4Error("has no moov box (recording unfinished or file truncated)")
        raw = read_payload(src, moov, MAX_MOOV_BYTES)
        # The index goes right after mvhd, where cameras put it: ExifTool only honours a `gps ` box met
        # before any handler (a trailing udta/meta/hdlr would hide it).
        head, rest = bytearray(), bytearray()
        for child in iter_boxes(src, moov.payload_offset, moov.end, strict=True):
            part = raw[child.offset - moov.payload_offset : child.end - moov.payload_offset]
            if child.type == b"mvhd" and not rest:
                head += part
            elif child.type != b"gps ":
                rest += part
        new_moov_size = 8 + len(head) + len(rest) + len(gps_index_box([(0, 0)] * len(slots)))
        delta = new_moov_size - moov.size
        if delta:
            _patch_chunk_offsets(rest, 0, len(rest), moov.end, delta)
        blocks_at = sum(b.size for b in boxes) + delta
        entries = [(blocks_at + i * block_size, block_size) for i in range(len(slots))]
        new_moov = struct.pack(">I4s", new_moov_size, b"moov") + head + gps_index_box(entries) + rest
        with open(tmp, "wb") as out:
            for box in boxes:
                if box is moov:
                    out.write(new_moov)
                else:
                    _copy_range(src, out, box.offset, box.size)
            for fix in slots:
                out.write(encode_block(fix, size=block_size))
    os.replace(tmp, dst_mp4)
    log.info("wrote %d freeGPS blocks into %s", len(slots), dst_mp4)
    return len(slots)
