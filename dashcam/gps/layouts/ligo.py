"""LIGOGPSINFO blocks (ExifTool GPSType 5): iiway S1, XGODY 12", ABASK A8, Rexing V1GW-4K, Kingslim D4.

After "LIGOGPSINFO\\0" at 16, 48 or 80 come 0x84-byte records. A record starting "####" is encrypted: a
byte whose top three bits steer how the next one to four bytes are unmasked (ExifTool's DecryptLigoGPS).
The clear text reads "<counter>YYYY/MM/DD hh:mm:ss N:lat E:lon speed ...". Unless the header says otherwise
the coordinates are "fuzzed": the units digit and decimals of latitude and longitude are swapped between the
two and scaled, which :func:`unfuzz` undoes with ExifTool's scale factors. Records starting with a date are
clear text (Redtiger F9 4K). Records that are enciphered (a substitution ExifTool learns from ten seconds of
records) are not decoded here: such a block is reported as not decodable, never guessed.
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
    u32,
)
from dashcam.gps.layouts.ligo_cipher import Cipher, decipher, enciphered

MAGIC = b"LIGOGPSINFO\x00"
STARTS = (16, 48, 80)
RECORD = 0x84
FUZZ_SCALES = {1: 1.524855137, 2: 1.456027985, 3: 1.15368}
FUZZED_SPEED_SCALE = 1.85407333
CLEAR_RECORD = re.compile(rb"^.{4}\d{4}/\d{2}/\d{2} ", re.S)
FIELDS = re.compile(rb"^.{4}(\S+ \S+)\s+([NS?]):(-?)([.\d]+)\s+([EW?]):(-?)([.\d]+)\s+([.\d]+)", re.S)
DATE_TIME = re.compile(rb"(\d+)/(\d+)/(\d+) (\d+):(\d+):(\d+(?:\.\d+)?)")
TRACK = re.compile(rb"\bA:(\S+)")
NUMBER = re.compile(rb"[-+]?\d*\.?\d*")


def _start(data: bytes) -> int | None:
    for start in STARTS:
        if data[start : start + len(MAGIC)] == MAGIC and len(data) >= start + RECORD:
            return start
    return None


def decrypt(record: bytes) -> bytes | None:
    """An encrypted "####" record (with its 8-byte header) to clear text, or None when it is not one."""
    if len(record) < 8:
        return None
    count = u32(record, 4)
    if count < 4:
        return None
    src = record[8 : 8 + min(count, RECORD)]
    out = bytearray()
    i = 0
    while i < len(src):
        b = src[i]
        i += 1
        steer = b & 0xE0
        if steer >= 0xC0:
            if len(src) - i < 4:
                return None
            c = src[i : i + 4]
            out += bytes(((c[0] | b & 0x01) ^ 0x20, (c[1] | b & 0x02) ^ 0x20, (c[2] | b & 0x0C) ^ 0x20))
            out.append((c[3] ^ 0x20) | b & 0x30)
            i += 4
        elif steer >= 0x40:
            if len(src) - i < 3:
                return None
            c = src[i : i + 3]
            i += 3
            if steer == 0x40:
                out += bytes(
                    (0x20, (c[0] | b & 0x01) ^ 0x20, (c[1] | b & 0x06) ^ 0x20, (c[2] | b & 0x18) ^ 0x20)
                )
            elif steer == 0x60:
                out += bytes(
                    ((c[0] | b & 0x03) ^ 0x20, 0x20, (c[1] | b & 0x04) ^ 0x20, (c[2] | b & 0x18) ^ 0x20)
                )
            elif steer == 0x80:
                out += bytes(
                    ((c[0] | b & 0x03) ^ 0x20, (c[1] | b & 0x0C) ^ 0x20, 0x20, (c[2] | b & 0x10) ^ 0x20)
                )
            else:
                out += bytes(
                    ((c[0] | b & 0x01) ^ 0x20, (c[1] | b & 0x06) ^ 0x20, (c[2] | b & 0x18) ^ 0x20, 0x20)
                )
        elif steer == 0:
            if i >= len(src):
                return None
            out.append(src[i] | b & 0x13)
            i += 1
        else:
            return None
    return bytes(out)


def unfuzz(lat: float, lon: float, scale: float) -> tuple[float, float]:
    """Swap back the units-and-decimals parts of latitude and longitude, rescaled (ExifTool's arithmetic)."""
    lat10, lon10 = int(lat / 10) * 10, int(lon / 10) * 10
    return lat10 + (lon - lon10) * scale, lon10 + (lat - lat10) * scale


def _num(text: bytes) -> float:
    m = NUMBER.match(text)
    try:
        return float(m.group(0)) if m else 0.0
    except ValueError:
        return 0.0


def parse(text: bytes, *, fuzzed: bool, kmh: bool, scale_key: int) -> BlockRecord | None:
    """One clear-text record (4-byte counter first) to a record; None when it is not one or off the globe."""
    m = FIELDS.match(text)
    if m is None:
        return None
    when, lat_ref, lat_neg, lat_s, lon_ref, lon_neg, lon_s, speed_s = m.groups()
    lat, lon = _num(lat_s), _num(lon_s)
    speed_scale = FUZZED_SPEED_SCALE if fuzzed else (1.0 if kmh else KNOTS_TO_KMH)
    if re.match(rb"\d{3}", lat_s):  # DDMM.MMMM; its speed was found unscaled
        lat, lon = ddmm_to_degrees(lat), ddmm_to_degrees(lon)
        speed_scale = 1.0
    if fuzzed:
        lat, lon = unfuzz(lat, lon, FUZZ_SCALES.get(scale_key, float(scale_key)))
    if lat > 90 or lon > 180:
        return None
    if lat_neg or lat_ref == b"S":
        lat = -lat
    if lon_neg or lon_ref == b"W":
        lon = -lon
    clock = None
    if (d := DATE_TIME.fullmatch(when)) is not None:
        y, mo, dd, hh, mi = (int(g) for g in d.groups()[:5])
        clock = {"year": y, "month": mo, "day": dd, "hour": hh, "minute": mi, "second": float(d.group(6))}
    track = TRACK.search(text)
    return fix(
        "ligogps",
        clock,
        lat,
        lon,
        speed_kmh=_num(speed_s) * speed_scale,
        heading=_num(track.group(1)) if track else None,
    )


def _decode(data: bytes, ctx: BlockContext) -> list[BlockRecord]:
    start = _start(data)
    assert start is not None
    if start == 16 and data[12:16] == b"\xf0\x03\0\0" and data[32:36] == b"\0\0\0\0":
        ctx.state["ligo_scale"] = 3  # ExifTool's weak header test for the ABASK A8; it sticks for the file
    scale = ctx.state.get("ligo_scale", 1)
    pos = start + 0x14
    fuzzed = not (data[pos - 8 : pos - 5] == b"\0\0\0" and data[pos - 5] in (0x01, 0x14))
    records = [data[p : p + RECORD] for p in range(pos, len(data) - RECORD + 1, RECORD)]
    records = [r for r in records if r.startswith(b"####") or CLEAR_RECORD.match(r)]
    cipher: Cipher = ctx.state.setdefault("ligo_cipher", Cipher())
    out: list[BlockRecord] = []
    for k, rec in enumerate(records):
        t = ctx.t + k / len(records)  # the records share the block's second
        if not rec.startswith(b"####"):  # clear text (Redtiger F9): not fuzzed, km/h
            found = [(t, parse(rec.rstrip(b"\0"), fuzzed=False, kmh=True, scale_key=scale))]
        elif (cipher.table is None or not enciphered(rec)) and (clear := decrypt(rec)) is not None:
            found = [(t, parse(clear, fuzzed=fuzzed, kmh=False, scale_key=scale))]
        else:  # ExifTool's order: a known cipher first, then decryption, then learning the cipher
            found = [
                (when, parse(text, fuzzed=fuzzed, kmh=False, scale_key=scale))
                for when, text in decipher(cipher, rec, t, ctx.offset)
            ]
        out += [replace(r, dt=when - ctx.t) for when, r in found if r is not None]
    return out


LIGOGPS = Layout(
    "ligogps",
    "5",
    'iiway S1, XGODY 12" 4K, ABASK A8, Rexing V1GW-4K, Kingslim D4, Redtiger F9 (LIGOGPSINFO)',
    lambda d: _start(d) is not None,
    _decode,
    whole_block=True,
)
