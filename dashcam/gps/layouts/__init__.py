"""The registry of freeGPS payload layouts: one entry per layout, each with its own signature and decoder.

The order is ExifTool's (ProcessFreeGPS in lib/Image/ExifTool/QuickTimeStream.pl, 13.58), because some
signatures overlap and ExifTool's order is what decides between them; entries of ours (no-fix blocks, the
moving A119 Mini 2 record, a bare NMEA sentence) come after all of ExifTool's. Adding a camera is one entry
here (or a sub-variant inside one) plus its fixture in tests/gps.

A block that matches no entry is "not recognised", never "no fix": only a block that is empty (zeros after
the header) or a recognised layout saying so (status V) means the camera had no fix.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass, field

from dashcam.gps.layouts.base import (
    BLOCK_MAGIC,
    KNOTS_TO_KMH,
    MPS_TO_KMH,
    BlockContext,
    BlockRecord,
    Layout,
    LayoutUnsupported,
    ddmm_to_degrees,
    valid_position,
)
from dashcam.gps.layouts.binary import (
    AKASO,
    AKASO_V1_ENCRYPTED,
    DOUBLES,
    EACHPAI_ENCRYPTED,
    MAI70,
    STATUS_V,
    VANTRUE_N4,
    VANTRUE_N4_NOFIX,
    VANTRUE_S1,
)
from dashcam.gps.layouts.ligo import LIGOGPS
from dashcam.gps.layouts.multi import ATC, INNOVV, NEXTBASE_BE, XBHT
from dashcam.gps.layouts.novatek import NOVATEK, NOVATEK_0X30, NOVATEK_FLOATING, NOVATEK_NOFIX
from dashcam.gps.layouts.text import NMEA_RMC, NMEA_TEXT, RMC_SHIFTED, XGODY_TEXT, XOR_TEXT

__all__ = [
    "BLOCK_MAGIC",
    "DECODE_BYTES",
    "KNOTS_TO_KMH",
    "LAYOUTS",
    "MPS_TO_KMH",
    "BlockContext",
    "BlockDecode",
    "BlockRecord",
    "Layout",
    "LayoutUnsupported",
    "ddmm_to_degrees",
    "decode",
    "decode_block",
    "detect",
    "valid_position",
]

log = logging.getLogger(__name__)

# How much of a block detection looks at; camera blocks are 0x4000-0x8000 bytes of mostly padding. Layouts
# whose records run through the block (``whole_block``) get the rest read once they are detected.
DECODE_BYTES = 0x400

LAYOUTS: tuple[Layout, ...] = (
    XOR_TEXT,  # 1
    NMEA_TEXT,  # 2
    NOVATEK,  # 3, 4 (and the Kenwood's record 48 bytes later)
    LIGOGPS,  # 5
    AKASO,  # 6
    RMC_SHIFTED,  # 7
    AKASO_V1_ENCRYPTED,  # 8
    EACHPAI_ENCRYPTED,  # 9
    VANTRUE_S1,  # 10
    ATC,  # 11
    DOUBLES,  # 12
    INNOVV,  # 13
    XBHT,  # 14
    VANTRUE_N4,  # 15
    NOVATEK_0X30,  # 16, 17, 17b, 17c
    XGODY_TEXT,  # 18
    MAI70,  # 19
    NEXTBASE_BE,  # 20: ExifTool's fallback, recognised by a valid first record
    # ours
    NOVATEK_NOFIX,
    VANTRUE_N4_NOFIX,
    STATUS_V,
    NMEA_RMC,
    NOVATEK_FLOATING,
)


@dataclass(frozen=True)
class BlockDecode:
    """What one block says. ``status``: "ok" (a layout decoded it, maybe to no fix), "empty" (nothing after
    the header), "unknown" (no layout matches) or "unsupported" (a known layout that cannot be decoded)."""

    status: str
    layout: Layout | None = None
    records: list[BlockRecord] = field(default_factory=list)
    note: str | None = None


def _empty(data: bytes) -> bool:
    """Zeros after the header, maybe a camera id in ASCII before 0x30 ("x.xx", "00000"): no fix written."""
    if any(data[0x30:]):
        return False
    return all(b == 0 or 0x20 <= b < 0x7F for b in data[0x10:0x30])


def detect(data: bytes) -> Layout | None:
    """The first layout (in ExifTool's order) whose signature the block's payload carries."""
    for layout in LAYOUTS:
        try:
            if layout.detect(data):
                return layout
        except (ValueError, struct.error, IndexError):  # a signature check reading past a short block
            continue
    return None


def decode(data: bytes, ctx: BlockContext | None = None, layout: Layout | None = None) -> BlockDecode:
    """Decode one block (from its size field on). ``layout``: skip detection (the reader detected it on the
    block's head and now passes the whole block)."""
    if len(data) < 12 or data[4:12] != BLOCK_MAGIC:
        return BlockDecode("unknown", note="no freeGPS header")
    layout = layout or detect(data)
    if layout is None:
        return BlockDecode("empty") if _empty(data) else BlockDecode("unknown")
    try:
        records = layout.decode(data, ctx if ctx is not None else BlockContext())
    except LayoutUnsupported as exc:
        return BlockDecode("unsupported", layout, note=str(exc))
    except (ValueError, struct.error, IndexError, OverflowError) as exc:
        log.debug("freeGPS layout %s could not decode a block: %s", layout.name, exc)
        return BlockDecode("unknown", layout, note=f"{layout.name} signature but undecodable: {exc}")
    return BlockDecode("ok", layout, records)


def decode_block(data: bytes, ctx: BlockContext | None = None) -> BlockRecord | None:
    """The block's first record, or None (not recognised, empty, undecodable): for one-record callers."""
    result = decode(data, ctx)
    return result.records[0] if result.records else None
