"""Dashcams that write their own GPS into a `gpmd` track (the GoPro sample format name), not GPMF.

ExifTool tells them apart by the sample's bytes before falling back to GoPro GPMF: Kingslim D4 (a freeGPS
payload without its header: the layout registry decodes it), Rove Stealth 4K (encrypted text: not decoded
here), Vantrue N2S ("FMAS") and Wolfbox G900 / Redtiger F9 (int64 value / scale pairs).
"""

from __future__ import annotations

import re
import struct

from dashcam.gps.layouts import BlockContext, BlockRecord, LayoutUnsupported, detect
from dashcam.gps.layouts.base import KNOTS_TO_KMH, ddmm_to_degrees, fix

MPH_TO_KMH = 1.60934
KINGSLIM = re.compile(rb"^.{21}\x00\x00\x00A[NS][EW]", re.S)
ROVE = re.compile(rb"^\x00\x00\xf2\xe1\xf0\xeeTT")
FMAS = re.compile(rb"^FMAS\x00\x00\x00\x00.{72}SAMM.{36}A", re.S)
WOLFBOX = re.compile(rb"^.{136}(?:0{16}[A-Z]{4}|https://www\.redtiger\x00)", re.S)


def _fmas(data: bytes) -> list[BlockRecord]:
    """Vantrue N2S: date bytes at 96, then letters and degrees / minutes / 1/6000 minutes at 120."""
    if FMAS.match(data) is None or len(data) < 160:
        return []  # the FMAS header without a fix
    year, month, day, hour, minute, second = struct.unpack_from("<H5B", data, 96)
    lon_ref, lat_ref = data[121:122], data[122:123]
    lon_deg, lon_min, _, lon_frac, lat_deg, lat_min, lat_frac, mph, track = struct.unpack_from(
        "<BBBHBBHHH", data, 123
    )
    lon = lon_deg + (lon_min + lon_frac / 6000) / 60
    lat = lat_deg + (lat_min + lat_frac / 6000) / 60
    clock = {"year": year, "month": month, "day": day, "hour": hour, "minute": minute, "second": second}
    return [
        fix(
            "vantrue-fmas",
            clock,
            -lat if lat_ref == b"S" else lat,
            -lon if lon_ref == b"W" else lon,
            speed_kmh=mph * MPH_TO_KMH,
            heading=float(track),
        )
    ]


def _wolfbox(data: bytes) -> list[BlockRecord]:
    """Wolfbox G900, Redtiger F9: (int64 value, int64 scale) pairs; lat / lon are signed DDMM."""
    if len(data) < 0xF8:
        return []
    day, month, year = struct.unpack_from("<3I", data, 104)
    hour, minute, second = struct.unpack_from("<3I", data, 160)
    speed, track, lat, lon = (
        value / (scale or 1)
        for value, scale in (struct.unpack_from("<qq", data, at) for at in (0x48, 0x58, 0xB0, 0xC0))
    )
    clock = {"year": year, "month": month, "day": day, "hour": hour, "minute": minute, "second": second}
    return [
        fix(
            "wolfbox",
            clock,
            ddmm_to_degrees(lat),
            ddmm_to_degrees(lon),
            speed_kmh=speed * KNOTS_TO_KMH,
            heading=track,
        )
    ]


def sample_records(data: bytes, ctx: BlockContext) -> list[BlockRecord] | None:
    """Records of a dashcam's `gpmd` sample; None when the sample is GoPro GPMF (or nothing ExifTool knows).

    Raises :class:`LayoutUnsupported` for a known sample whose coordinates cannot be decoded.
    """
    if KINGSLIM.match(data):
        layout = detect(data)
        if layout is None:
            raise LayoutUnsupported("Kingslim sample in no known freeGPS layout")
        return layout.decode(data, ctx)
    if ROVE.match(data):
        raise LayoutUnsupported("encrypted text (Rove Stealth 4K)")
    if data.startswith(b"FMAS\0\0\0\0"):
        return _fmas(data)
    if WOLFBOX.match(data):
        return _wolfbox(data)
    return None
