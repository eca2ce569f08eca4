"""Find and decode the freeGPS blocks of a clip, with seeks only.

Blocks are found through the `gps ` index in moov when there is one (cost: one small read per block);
otherwise top-level ``free`` boxes are checked and mdat is scanned for the block marker. Every size and
offset is checked against the end of the file, so a hostile header cannot make us loop or allocate.
"""

from __future__ import annotations

import logging
import os
import struct
from dataclasses import dataclass, field
from typing import BinaryIO

from dashcam.gps.assemble import Problem
from dashcam.gps.layouts import BLOCK_MAGIC, DECODE_BYTES, BlockContext, BlockRecord, decode, detect
from dashcam.video.mp4box import Box, Mp4Error, children

log = logging.getLogger(__name__)

MAX_INDEX_BYTES = 16 << 20  # two million blocks: far beyond any clip
MAX_BLOCK_BYTES = 1 << 20  # what a whole-block layout may read of one block (cameras write 16-32 KiB)
MDAT_FIRST_BLOCK_WINDOW = 32 << 20  # Novatek writes the first block near the start of mdat
SCAN_CHUNK = 1 << 20
TAIL_BYTES = 64  # a whole-block layout's head ending in this many zeros needs no more of the block


@dataclass(frozen=True)
class BlockRef:
    """Where block number ``t`` (its second of video) lies in the file; size None: read its size field."""

    t: int
    offset: int
    size: int | None


@dataclass
class Found:
    """Records of one GPS source, with the blocks it could not read."""

    source: str
    records: list[tuple[float, BlockRecord]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    examples: dict[str, Problem] = field(default_factory=dict)  # a block per layout, to name if rejected
    blocks: int = 0


def index_refs(f: BinaryIO, moov: Box, size: int) -> list[BlockRef] | None:
    """Entries of the `gps ` box in moov, or None when there is none. Counts are clamped to the box."""
    try:
        gps = next((b for b in children(f, moov, strict=False) if b.type == b"gps "), None)
    except Mp4Error as exc:
        log.warning("damaged moov, looking for GPS blocks by scanning: %s", exc)
        return None
    if gps is None or gps.payload_size < 8:
        return None
    f.seek(gps.payload_offset)
    payload = f.read(min(gps.payload_size, MAX_INDEX_BYTES))
    if payload[:1] in (b"[", b"$"):
        return None  # an NMEA log, not an index (streams.py reads those)
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


def scan_refs(f: BinaryIO, boxes: list[Box], size: int) -> list[BlockRef]:
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
    return [BlockRef(i, off, None) for i, off in enumerate(found) if off + 12 <= size]


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


def read_blocks(f: BinaryIO, refs: list[BlockRef], source: str, ctx: BlockContext) -> Found:
    """Decode every referenced block; a block holding n records spreads them over its second."""
    found = Found(source, blocks=len(refs))
    fd = f.fileno()
    for ref in refs:
        head_len = DECODE_BYTES if ref.size is None else min(max(ref.size, 12), DECODE_BYTES)
        data = os.pread(fd, head_len, ref.offset)  # one syscall, no seek
        layout = detect(data) if data[4:12] == BLOCK_MAGIC else None
        if layout is not None and layout.whole_block and any(data[-TAIL_BYTES:]):
            # Records run contiguously from the start: a head ending in zeros already holds them all.
            declared = ref.size if ref.size is not None else struct.unpack_from(">I", data)[0]
            if declared > len(data):
                data = os.pread(fd, min(declared, MAX_BLOCK_BYTES), ref.offset)
        ctx.t, ctx.offset = ref.t, ref.offset
        result = decode(data, ctx, layout)
        if result.status in ("unknown", "unsupported"):
            found.problems.append(Problem(ref.offset, data[:32], result.note))
            continue
        n = len(result.records)
        for k, rec in enumerate(result.records):
            if rec.layout not in found.examples:
                found.examples[rec.layout] = Problem(ref.offset, data[:32])
            found.records.append((ref.t + (rec.dt if rec.dt is not None else k / n), rec))
    if (problem := held_back(ctx, fd)) is not None:
        found.problems.append(problem)
    return found


def held_back(ctx: BlockContext, fd: int) -> Problem | None:
    """Records a layout held back and never could decode: the clip ended before its cipher was learnt."""
    cipher = ctx.state.get("ligo_cipher")
    if cipher is None or not cipher.pending:
        return None
    note = f"enciphered LIGOGPSINFO: {len(cipher.pending)} records, too few seconds to learn the cipher"
    return Problem(cipher.pending_from, os.pread(fd, 32, cipher.pending_from), note)


def kodak_version(f: BinaryIO, boxes: list[Box]) -> str | None:
    """The `ver ` string of a top-level `frea` box (Kodak PixPro and the Rexing V1-4K built on it)."""
    frea = next((b for b in boxes if b.type == b"frea"), None)
    if frea is None or frea.payload_size > 1 << 20:
        return None
    try:
        ver = next((b for b in children(f, frea, strict=False) if b.type == b"ver "), None)
    except Mp4Error:
        return None
    if ver is None or ver.payload_size > 64:
        return None
    f.seek(ver.payload_offset)
    return f.read(ver.payload_size).rstrip(b"\0 ").decode("latin-1")
