"""Layouts that store text: XOR-ed digits, NMEA sentences, shifted NMEA, "N:.. W:.." sentences.

ExifTool GPSTypes 1 (Azdome GS63H, EEEkit: XOR 0xAA), 2 (Nextbase 512GW: NMEA after a local camera clock),
7 (every byte of an NMEA sentence shifted by 16) and 18 (XGODY: "normal:2024/05/22 02:54:29 N:42.38 ..."),
plus an NMEA $xxRMC sentence anywhere in the block (Vantrue N2X), which is ours and tried last.
"""

from __future__ import annotations

import re
from dataclasses import replace

from dashcam.gps.layouts.base import (
    KNOTS_TO_KMH,
    BlockContext,
    BlockRecord,
    Layout,
    ddmm_to_degrees,
    fix,
    i32,
    signed,
)

# ---------------------------------------------------------------------------------------------------
# Type 1: from byte 18 on, ASCII XOR 0xAA: date and time digits, a label, N/S + 8 digits (DDMM.MMMM * 1e4),
# E/W + 9 digits, then (Azdome) 8 digits of speed or (EEEkit) a signed altitude and 3 digits of speed.

XOR_KEY = 0xAA
XOR_START = 18
XOR_SIGNATURE = b"\xaa\xaa\xf2\xe1\xf0\xeeTT"
XOR_FIX = re.compile(
    rb"^.{8}(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2}).(.{15})([NS])(\d{8})([EW])(\d{9})(\d{8})?", re.S
)
EEEKIT_SPEED = re.compile(rb"^.{57}[-+]\d{4}(\d{3})", re.S)


def _decode_xor(data: bytes, ctx: BlockContext) -> list[BlockRecord]:
    n = min(len(data) - XOR_START, 0x101)
    clear = bytes(b ^ XOR_KEY for b in data[XOR_START : XOR_START + n])
    m = XOR_FIX.match(clear)
    if m is None:
        # Azdome writes its clock and accelerometer without a fix; that clock's zone is unknown, so it is not
        # offered as a no-fix UTC clock.
        return []
    year, month, day, hour, minute, second = (int(g) for g in m.group(1, 2, 3, 4, 5, 6))
    if m.group(12) is not None:
        speed: float | None = float(int(m.group(12)))
    elif (sm := EEEKIT_SPEED.match(clear)) is not None:
        speed = float(int(sm.group(1)))
    else:
        speed = None
    lat = signed(ddmm_to_degrees(int(m.group(9)) / 1e4), m.group(8), b"S")
    lon = signed(ddmm_to_degrees(int(m.group(11)) / 1e4), m.group(10), b"W")
    clock = {"year": year, "month": month, "day": day, "hour": hour, "minute": minute, "second": second}
    return [fix("xor-text", clock, lat, lon, speed_kmh=speed)]


XOR_TEXT = Layout(
    "xor-text",
    "1",
    "Azdome GS63H, EEEkit (ASCII XOR 0xAA)",
    lambda d: d[XOR_START : XOR_START + 8] == XOR_SIGNATURE,
    _decode_xor,
)


# ---------------------------------------------------------------------------------------------------
# Type 2: 14 digits of local camera time at 52, then NMEA sentences. ExifTool's RMC pattern accepts status
# 'A' or nothing (a 'V' sentence is no fix); GGA gives a position with a time of day but no date.

RMC = re.compile(
    rb"\$[A-Z]{2}RMC,(\d{2})(\d{2})(\d+(?:\.\d*)?),A?,(\d+\.\d+),([NS]),(\d+\.\d+),([EW]),"
    rb"(\d*\.?\d*),(\d*\.?\d*),(\d{2})(\d{2})(\d+)"
)
GGA = re.compile(
    rb"\$[A-Z]{2}GGA,(\d{2})(\d{2})(\d+(?:\.\d*)?),(\d+\.\d+),([NS]),(\d+\.\d+),([EW]),[1-6]?,(\d+)?,"
    rb"(\.\d+|\d+\.?\d*)?,(-?\d+\.?\d*)?,M?"
)
CAMERA_CLOCK_AT_52 = re.compile(rb"^.{52}\d{14}", re.S)


def rmc_record(m: re.Match[bytes], layout: str) -> BlockRecord:
    """A record from a match of :data:`RMC` (or of the same groups in a deciphered sentence)."""
    hh, mi, ss, lat, ns, lon, ew, speed, track, dd, mo, yy = m.groups()
    year = int(yy)
    clock = {
        "year": year + (1900 if year >= 70 else 2000),
        "month": int(mo),
        "day": int(dd),
        "hour": int(hh),
        "minute": int(mi),
        "second": float(ss),
    }
    return fix(
        layout,
        clock,
        signed(ddmm_to_degrees(float(lat)), ns, b"S"),
        signed(ddmm_to_degrees(float(lon)), ew, b"W"),
        speed_kmh=float(speed) * KNOTS_TO_KMH if speed else None,
        heading=float(track) if track else None,
    )


def _decode_nextbase_text(data: bytes, ctx: BlockContext) -> list[BlockRecord]:
    if (m := RMC.search(data)) is not None:
        rec = rmc_record(m, "nmea-text")
    elif (g := GGA.search(data)) is not None:
        hh, mi, ss, lat, ns, lon, ew = g.groups()[:7]
        # A time of day without a date: the fix keeps its video second only.
        rec = fix(
            "nmea-text",
            None,
            signed(ddmm_to_degrees(float(lat)), ns, b"S"),
            signed(ddmm_to_degrees(float(lon)), ew, b"W"),
        )
    else:
        return []
    if rec.has_fix and len(data) >= 80:
        accel = (i32(data, 68) / 256, i32(data, 72) / 256, i32(data, 76) / 256)
        rec = replace(rec, accel=accel)
    return [rec]


NMEA_TEXT = Layout(
    "nmea-text",
    "2",
    "Nextbase 512GW (camera clock, then $GPRMC / $GPGGA)",
    lambda d: CAMERA_CLOCK_AT_52.match(d) is not None,
    _decode_nextbase_text,
)


# ---------------------------------------------------------------------------------------------------
# Type 7: 80 bytes from 60 hold an NMEA RMC sentence with every byte raised by 16 ("4W`b]S<" is "$GPRMC,").

SHIFTED_SIGNATURE = b"4W`b]S<"
SHIFTED_RMC = re.compile(
    rb"[A-Z]{2}RMC,(\d{2})(\d{2})(\d+(?:\.\d*)?),A?,(\d*?\d{1,2}\.\d+),([NS]),(\d*?\d{1,2}\.\d+),([EW]),"
    rb"(\d*\.?\d*),(\d*\.?\d*),(\d{2})(\d{2})(\d+)"
)


def _decode_shifted(data: bytes, ctx: BlockContext) -> list[BlockRecord]:
    clear = bytes(b - 16 if b >= 16 else 0 for b in data[60:140])
    m = SHIFTED_RMC.search(clear)
    return [rmc_record(m, "rmc-shift16")] if m else []


RMC_SHIFTED = Layout(
    "rmc-shift16",
    "7",
    "ZXSBNXYS firmwares (NMEA RMC with every byte + 16)",
    lambda d: len(d) >= 140 and d[60:67] == SHIFTED_SIGNATURE,
    _decode_shifted,
)


# ---------------------------------------------------------------------------------------------------
# Type 18 (XGODY 12" 4K): "normal:YYYY/MM/DD hh:mm:ss N:42.382470 W:83.389570 53.6 km/h x:.. A:269.2 H:.."
# Coordinates are decimal degrees; the bare number after the longitude is the speed, in knots although the
# camera labels it km/h (ExifTool's reading); "A:" is the track.

XGODY_HEAD = re.compile(rb"^.{23}(\d{4})/(\d{2})/(\d{2}) (\d{2}):(\d{2}):(\d{2}) [N|S]", re.S)
XGODY_FIELD = re.compile(rb"([A-Z]):([-+]?\d+(?:\.\d+)?)", re.I)
BARE_DECIMAL = re.compile(rb"\d+\.\d+")


def _decode_xgody(data: bytes, ctx: BlockContext) -> list[BlockRecord]:
    head = XGODY_HEAD.match(data)
    assert head is not None
    year, month, day, hour, minute, second = (int(g) for g in head.groups())
    lat = lon = speed = heading = None
    lat_ref = lon_ref = b""
    for token in data.rstrip(b"\0")[43:].split():
        m = XGODY_FIELD.fullmatch(token)
        if m is None:
            if lon is not None and speed is None and BARE_DECIMAL.fullmatch(token):
                speed = float(token) * KNOTS_TO_KMH
            continue
        key, value = m.group(1), float(m.group(2))
        if key in (b"N", b"S"):
            lat, lat_ref = value, key
        elif key in (b"E", b"W"):
            lon, lon_ref = value, key
        elif key == b"A":
            heading = value
    clock = {"year": year, "month": month, "day": day, "hour": hour, "minute": minute, "second": second}
    if lat is None or lon is None:
        return []  # a clock of unknown zone without a fix: nothing to offer
    return [
        fix(
            "xgody-text",
            clock,
            signed(lat, lat_ref, b"S"),
            signed(lon, lon_ref, b"W"),
            speed_kmh=speed,
            heading=heading,
        )
    ]


XGODY_TEXT = Layout(
    "xgody-text",
    "18",
    'XGODY 12" 4K ("normal:<date> N:<deg> W:<deg> <speed> ...")',
    lambda d: XGODY_HEAD.match(d) is not None,
    _decode_xgody,
)


# ---------------------------------------------------------------------------------------------------
# Ours, tried after every ExifTool layout: a $xxRMC sentence anywhere in the block, with its own status.

ANY_RMC = re.compile(
    rb"\$[A-Z]{2}RMC,(\d{2})(\d{2})(\d{2}(?:\.\d*)?),([AV]),(\d+\.\d+)?,([NS])?,(\d+\.\d+)?,([EW])?,"
    rb"(\d*\.?\d*),(\d*\.?\d*),(\d{2})(\d{2})(\d{2})"
)


def _decode_any_rmc(data: bytes, ctx: BlockContext) -> list[BlockRecord]:
    m = ANY_RMC.search(data)
    assert m is not None
    hh, mi, ss, status, lat, ns, lon, ew, speed, track, dd, mo, yy = m.groups()
    year = int(yy)
    clock = {
        "year": year + (1900 if year >= 70 else 2000),
        "month": int(mo),
        "day": int(dd),
        "hour": int(hh),
        "minute": int(mi),
        "second": float(ss),
    }
    if status != b"A" or not lat or not lon:
        return [BlockRecord("nmea-rmc", "V", **clock)]  # type: ignore[arg-type]
    return [
        fix(
            "nmea-rmc",
            clock,
            signed(ddmm_to_degrees(float(lat)), ns, b"S"),
            signed(ddmm_to_degrees(float(lon)), ew, b"W"),
            speed_kmh=float(speed) * KNOTS_TO_KMH if speed else None,
            heading=float(track) if track else None,
        )
    ]


NMEA_RMC = Layout(
    "nmea-rmc",
    "",
    "Vantrue N2X and other blocks carrying a plain $GPRMC / $GNRMC sentence",
    lambda d: ANY_RMC.search(d) is not None,
    _decode_any_rmc,
)
