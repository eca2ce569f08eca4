"""Real freeGPS blocks as ExifTool 13.58 documents them (hex dumps in QuickTimeStream.pl), and builders.

Where a dump stops before the fields a layout reads (ExifTool shows only a header for some), the block is
completed from the field table beside the dump; each such completion is named where it is built.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

from dashcam.gps.writer import FTYP, gps_index_box, mvhd_box


def hexdump(text: str) -> bytes:
    """Bytes of an ExifTool-style dump ("0010: 41 4e 45 00 ... [ANE.]"), offsets checked."""
    out = bytearray()
    for line in text.strip().splitlines():
        m = re.match(r"\s*([0-9a-f]{4}):((?: [0-9a-f]{2})+)", line)
        assert m is not None, line
        assert int(m.group(1), 16) == len(out), f"dump offset {m.group(1)} after {len(out)} bytes"
        out += bytes.fromhex(m.group(2))
    return bytes(out)


def pad(block: bytes, size: int = 0x100) -> bytes:
    """Zero padding as the camera writes it (ExifTool ignores blocks under 82 bytes)."""
    return block + bytes(max(0, size - len(block)))


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def clip(path: Path, blocks: list[bytes], *, before_moov: bytes = b"") -> Path:
    """ftyp, optional top-level boxes, mdat holding the blocks, moov with a `gps ` index pointing at them."""
    entries, pos = [], len(FTYP) + len(before_moov) + 8
    for block in blocks:
        entries.append((pos, len(block)))
        pos += len(block)
    mdat = box(b"mdat", b"".join(blocks))
    path.write_bytes(FTYP + before_moov + mdat + box(b"moov", mvhd_box(len(blocks)) + gps_index_box(entries)))
    return path


# ---------------------------------------------------------------------------------------------------
# The dumps (block offset 0 = the 4-byte size field).

AZDOME_HEAD = hexdump("""
0000: 00 00 80 00 66 72 65 65 47 50 53 20 05 01 00 00
0010: 01 03
""")
# Azdome GS63H: ExifTool shows the text after XOR 0xAA from byte 18 ("[...]" rows are zeros).
AZDOME_CLEAR = hexdump("""
0000: 00 00 58 4b 5a 44 fe fe 32 30 31 38 30 39 32 34
0010: 32 32 34 39 32 38 0c 35 35 36 37 47 50 20 20 20
0020: 00 00 00 00 00 03 4e 34 30 34 36 34 33 35 30 57
0030: 30 30 37 30 34 30 33 30 38 30 30 30 30 30 30 30
0040: 37 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0050: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0060: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0070: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0080: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0090: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
00a0: 00 00 00 00 00 00 00 00 00 00 00 00 00 2b 30 39
00b0: 33 2d 30 30 33 2d 30 30 35 00 00 00 00 00 00 00
""")
EEEKIT_HEAD = hexdump("""
0000: 00 00 04 00 66 72 65 65 47 50 53 20 f0 03 00 00
0010: 01 03
""")
EEEKIT_CLEAR = hexdump("""
0000: 00 00 58 4b 5a 44 fe fe 32 30 32 30 30 35 31 39
0010: 31 36 32 33 33 35 0c 30 30 32 30 30 35 31 39 31
0020: 36 32 33 33 36 03 4e 33 37 34 35 32 34 31 36 57
0030: 31 32 32 32 35 35 30 30 39 2b 30 31 37 35 30 31
0040: 31 2b 30 31 34 2b 30 30 32 2b 30 32 36 2b 30 31
""")


def xor_block(head: bytes, clear: bytes) -> bytes:
    return head + bytes(b ^ 0xAA for b in clear)


E_ACE = hexdump("""
0000: 00 00 40 00 66 72 65 65 47 50 53 20 f0 03 00 00
0010: 08 00 00 00 22 00 00 00 01 00 00 00 18 00 00 00
0020: 08 00 00 00 10 00 00 00 41 4e 45 00 67 4e 69 69
0030: 5a 38 4a 54 74 48 63 61 36 74 77 3d 00 00 00 00
0040: 68 74 75 69 5a 4d 4a 53 73 58 55 58 37 4e 6f 3d
0050: 00 00 00 00 64 3b ac 41 e1 3a 1d 43 2b 01 00 00
0060: fd ff ff ff 43 00 00 00 32 4a 37 31 50 70 55 48
0070: 37 69 68 66 00 00 00 00 00 00 00 00 00 00 00 00
""")
# iiway S1 (LIGOGPSINFO at 16, fuzzed, scale 1) and ABASK A8 (scale 3): the dumps end 20 bytes into the
# first encrypted record; :func:`ligo_record` continues it.
IIWAY_HEAD = hexdump("""
0000: 00 00 40 00 66 72 65 65 47 50 53 20 f0 03 00 00
0010: 4c 49 47 4f 47 50 53 49 4e 46 4f 00 00 00 00 05
0020: 0a 00 00 00
""")
ABASK_HEAD = hexdump("""
0000: 00 00 40 00 66 72 65 65 47 50 53 20 f0 03 00 00
0010: 4c 49 47 4f 47 50 53 49 4e 46 4f 00 00 00 00 05
0020: 00 00 00 00
""")
# The dump's first 19 encrypted bytes: counter 0, "2022/02/03 2" (its 20th starts the next group).
IIWAY_RECORD_START = bytes.fromhex("c020202020f012101222e10e10122f90101302")


def ligo_encrypt(text: bytes) -> bytes:
    """Encrypt clear text with the one steering byte (0xc0) that unmasks four bytes XOR 0x20."""
    out = bytearray()
    for i in range(0, len(text) - len(text) % 4, 4):
        out.append(0xC0)
        out += bytes(c ^ 0x20 for c in text[i : i + 4])
    for c in text[len(text) - len(text) % 4 :]:
        out += bytes((0x00, c))  # steering 0: the byte as is (its 0x13 bits must be in the byte)
    return out


def ligo_record(encrypted: bytes) -> bytes:
    return (b"####" + struct.pack("<I", len(encrypted)) + encrypted).ljust(0x84, b"\0")


AKASO = hexdump("""
0000: 00 00 80 00 66 72 65 65 47 50 53 20 60 00 00 00
0010: 78 2e 78 78 00 00 00 00 00 00 00 00 00 00 00 00
0020: 30 30 30 30 30 00 00 00 00 00 00 00 00 00 00 00
0030: 12 00 00 00 2f 00 00 00 19 00 00 00 41 00 00 00
0040: 13 b3 ca 44 4e 00 00 00 29 92 fb 45 45 00 00 00
0050: d9 ee b4 41 ec d1 d3 42 e4 07 00 00 01 00 00 00
0060: 0c 00 00 00 01 00 00 00 05 00 00 00 00 00 00 00
""")
ANTICLOCK = hexdump("""
0000: 00 00 80 00 66 72 65 65 47 50 53 20 68 00 00 00
0010: 32 30 31 33 30 33 32 35 41 00 00 00 00 00 00 00
0020: 41 70 72 20 20 36 20 32 30 31 36 2c 20 31 36 3a
0030: 0e 00 00 00 38 00 00 00 22 00 00 00 41 00 00 00
0040: 8a 63 24 45 53 00 00 00 9f e6 42 45 45 00 00 00
0050: 59 c0 04 3f 52 b8 42 41 14 00 00 00 0b 00 00 00
0060: 19 00 00 00 06 00 00 00 05 00 00 00 f6 ff ff ff
0070: 03 00 00 00 04 00 00 00 00 00 00 00 00 00 00 00
""")
ZXSBNXYS = hexdump("""
0000: 00 00 40 00 66 72 65 65 47 50 53 20 f0 01 00 00
0010: 5a 58 53 42 4e 58 59 53 00 00 00 00 00 00 00 00
0020: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0030: 00 00 00 00 00 00 00 00 00 00 00 00 34 57 60 62
0040: 5d 53 3c 41 44 45 41 41 42 3e 40 40 3c 51 3c 45
0050: 41 40 43 3e 41 47 49 48 44 3c 5e 3c 40 41 46 43
0060: 42 3e 49 49 40 42 45 3c 55 3c 45 47 3e 45 43 41
""")
AKASO_V1 = hexdump("""
0000: 00 00 80 00 66 72 65 65 47 50 53 20 78 00 00 00
0010: 59 6e 64 41 6b 61 73 6f 43 61 72 00 00 00 00 00
0020: 30 30 30 30 30 00 00 00 00 00 00 00 00 00 00 00
0030: 0e 00 00 00 27 00 00 00 2c 00 00 00 e3 07 00 00
0040: 05 00 00 00 1d 00 00 00 41 4e 45 00 00 00 00 00
0050: f1 4e 3e 3d 90 df ca 40 e3 50 bf 0b 0b 31 a0 40
0060: 4b dc c8 41 9a 79 a7 43 34 58 43 31 4f 37 31 35
0070: 35 31 32 36 36 35 37 35 59 4e 44 53 0d e7 cc f9
0080: 00 00 00 00 05 00 00 00 00 00 00 00 00 00 00 00
""")
EACHPAI = hexdump("""
0000: 00 00 80 00 66 72 65 65 47 50 53 20 ac 00 00 00
0010: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0020: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0030: 00 00 00 00 00 00 00 00 00 00 00 00 34 57 60 62
0040: 5d 53 3c 41 47 45 45 42 42 3e 40 40 40 3c 51 3c
0050: 44 42 44 40 3e 48 46 43 45 3c 5e 3c 40 48 43 41
0060: 42 3e 46 42 47 48 3c 67 3c 40 3e 40 42 3c 43 3e
0070: 43 41 3c 40 42 40 46 42 40 3c 3c 3c 51 3a 47 46
0080: 00 2a 36 35 00 00 00 00 00 00 00 00 00 00 00 00
""")
VANTRUE_S1 = hexdump("""
0000: 00 00 80 00 66 72 65 65 47 50 53 20 78 00 00 00
0010: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0020: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0030: 68 6f 72 73 6f 6e 74 65 63 68 00 00 00 00 00 00
0040: 41 4e 45 00 15 00 00 00 07 00 00 00 02 00 00 00
0050: 03 00 00 00 35 00 00 00 05 00 00 00 4f 74 4c 44
0060: e2 77 a0 45 89 c1 98 42 71 bd ac 42 02 ab 0d 43
0070: 05 00 00 00 7f 00 00 00 07 01 00 00 00 00 00 00
""")
ATC_HEAD = hexdump("""
0000: 00 00 80 00 66 72 65 65 47 50 53 20 38 06 00 00
0010: 49 51 53 32 30 31 33 30 33 30 36 42 00 00 00 00
0020: 4d 61 79 20 31 35 20 32 30 31 35 2c 20 31 39 3a
""")
DOUBLES_HEAD = hexdump("""
0000: 00 00 80 00 66 72 65 65 47 50 53 20 08 01 00 00
0010: 32 30 31 33 30 38 31 35 2e 30 31 00 00 00 00 00
0020: 4a 75 6e 20 31 30 20 32 30 31 37 2c 20 31 34 3a
""")
INNOVV = hexdump("""
0000: 00 00 40 00 66 72 65 65 47 50 53 20 f0 03 00 00
0010: 41 4e 45 00 e4 56 96 45 86 b1 ca 44 5c 8f e2 40
0020: 33 33 58 43 c3 00 00 00 30 00 00 00 a0 fe ff ff
0030: 41 4e 45 00 e3 56 96 45 82 b1 ca 44 5c 8f fa 40
0040: c3 75 56 43 8c ff ff ff 8c 00 00 00 c3 fd ff ff
""")
XBHT = hexdump("""
0000: 00 00 40 00 66 72 65 65 47 50 53 20 f0 03 00 00
0010: 00 17 05 11 0d 25 18 00 41 4e 45 64 83 3f 00 00
0020: 44 3d c5 02 48 6d ff 07 df 03 00 00 6b 00 00 00
0030: 00 00 00 00 00 17 05 11 0d 25 18 01 41 4e 45 64
0040: 8b 3f 00 00 30 3d c5 02 50 6d ff 07 df 03 00 00
""")
IQS_HEAD = hexdump("""
0000: 00 00 80 00 66 72 65 65 47 50 53 20 4c 00 00 00
0010: 49 51 53 5f 41 37 5f 32 30 31 35 30 34 31 37 00
0020: 4d 61 72 20 32 39 20 32 30 31 37 2c 20 31 36 3a
""")
REXING = hexdump("""
0000: 00 00 80 00 66 72 65 65 47 50 53 20 4c 00 00 00
0010: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0020: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0030: 0e 00 00 00 22 00 00 00 28 00 00 00 14 00 00 00
0040: 02 00 00 00 16 00 00 00 41 4e 57 00 e9 7e 90 43
0050: 48 76 17 45 0c 02 48 42 14 6e 85 43 00 00 00 00
""")
TRANSCEND = hexdump("""
0000: 00 00 40 00 66 72 65 65 47 50 53 20 4c 00 00 00
0010: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0020: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0030: 09 00 00 00 26 00 00 00 15 00 00 00 e9 07 00 00
0040: 05 00 00 00 10 00 00 00 41 53 45 00 6c 59 ee 41
0050: 9f 1a f7 41 3c 6b 0f 41 9a 99 99 43 00 00 00 00
""")
XGODY = hexdump("""
0000: 00 00 00 a8 66 72 65 65 47 50 53 20 98 00 00 00
0010: 6e 6f 72 6d 61 6c 3a 32 30 32 34 2f 30 35 2f 32
0020: 32 20 30 32 3a 35 34 3a 32 39 20 4e 3a 34 32 2e
0030: 33 38 32 34 37 30 20 57 3a 38 33 2e 33 38 39 35
0040: 37 30 20 35 33 2e 36 20 6b 6d 2f 68 20 78 3a 2d
0050: 30 2e 30 32 20 79 3a 30 2e 39 39 20 7a 3a 30 2e
0060: 31 30 20 41 3a 32 36 39 2e 32 20 48 3a 32 34 35
0070: 2e 35 00 00 00 00 00 00 00 00 00 00 00 00 00 00
""")
MAI70 = hexdump("""
0000: 00 00 40 00 66 72 65 65 47 50 53 20 ed 01 00 00
0010: 03 00 ed 01 00 00 00 0f 00 00 70 08 00 00 41 66
0020: 13 7d 1e 3c 11 dc 03 5d 01 00 00 01 00 00 00 23
0030: 00 00 00 56 56 00 00 00 00 00 00 00 00 00 00 00
0040: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
""")
NEXTBASE_512G = hexdump("""
0000: 00 00 80 00 66 72 65 65 47 50 53 20 78 01 00 00
0010: 78 2e 78 78 00 00 00 00 00 00 00 00 00 00 00 00
0020: 30 30 30 30 30 00 00 00 00 00 00 00 00 00 00 00
0030: 24 53 02 79 d4 85 07 e2 0a 08 06 2a 01 d1 02 20
0040: 14 98 ff ff 21 67 97 10 00 00 00 00 00 00 00 00
0050: 24 53 02 a2 d4 42 07 e2 0a 08 06 2a 01 d2 02 20
0060: 14 98 e3 ff 21 67 3b 10 00 00 00 00 00 00 00 00
""")


# ---------------------------------------------------------------------------------------------------
# Completions of dumps that stop early, and blocks built from ExifTool's field tables alone.

IIWAY_TEXT = b"2:45:24 N:31.285065 W:124.759483 46.93 km/h A:123.4"
REDTIGER_TEXT = b"\x01\x00\x00\x002024/01/02 03:04:05 N:31.285065 E:121.123456 50.5 km/h A:90.0"
# ZXSBNXYS: the dump ends inside the speed; the sentence goes on (track, date) in the same +16 code.
ZXSBNXYS_TAIL = bytes(c + 16 for c in b",123.45,150619,,,A*00")
REXING_FREA = box(b"frea", box(b"ver ", b"3.01.054"))


def iiway_block(head: bytes = IIWAY_HEAD) -> bytes:
    record = ligo_record(IIWAY_RECORD_START + ligo_encrypt(IIWAY_TEXT))
    return pad(head + record, 0x200)


def atc_record(
    hms: tuple[int, int, int], ymd: tuple[int, int, int], lat: float, lon: float, mps: float, deg: float
) -> bytes:
    """One ATC ring-buffer record, encrypted with key bytes 0x5a / 0xa5 as the field table describes."""
    a = bytearray(52)
    a[0:4] = b"\x01\x07\x00\x00"
    a[0x0C] = 2
    a[0x0D], a[0x0E], a[0x0F] = hms[0] - 1, hms[1], hms[2]
    struct.pack_into("<i", a, 0x10, round(lat * 1e7))
    a[0x15:0x18] = b"ATC"
    struct.pack_into("<i", a, 0x18, round(lon * 1e7))
    a[0x1D:0x20] = b"001"
    struct.pack_into("<ih", a, 0x20, round(mps * 100), round(deg * 100))
    struct.pack_into("<iHBB", a, 0x28, 123_000, *ymd)
    for i in [*range(0x00, 0x15), *range(0x18, 0x1C)]:
        a[i] ^= 0x5A
    for i in [0x1C, *range(0x20, 0x33)]:
        a[i] ^= 0xA5
    return bytes(a)


ATC_RECORDS = [
    atc_record((19, 30, 10), (2015, 5, 15), 48.1234567, -122.7654321, 12.5, -90.5),
    atc_record((19, 30, 11), (2015, 5, 15), 48.1235567, -122.7655321, 12.75, -90.25),
    atc_record((19, 30, 12), (2015, 5, 15), 48.1236567, -122.7656321, 13.0, 179.0),
]


def atc_blocks() -> list[bytes]:
    """A ring buffer filling up: one, two, then three records (each block holds all so far)."""
    return [pad(ATC_HEAD + b"".join(ATC_RECORDS[: n + 1]), 0x100) for n in range(3)]


def doubles_block() -> bytes:
    body = struct.pack(
        "<3I4sd4s4xd4s4xdd3I3i",
        14,
        21,
        9,
        b"A\0\0\0",
        4807.03812,
        b"N\0\0\0",
        1131.0001,
        b"E\0\0\0",
        23.4,
        271.5,
        17,
        6,
        10,
        10,
        -20,
        1000,
    )
    return pad(DOUBLES_HEAD + body, 0x100)


def iqs_block() -> bytes:
    body = struct.pack("<6I4s3if", 16, 5, 7, 17, 3, 29, b"ASE\0", 339_012_345, 1_512_345_678, 1234, 55_000.0)
    return pad(IQS_HEAD + body, 0x100)


def xbht_block() -> bytes:
    return pad(XBHT + b"\x6b" + bytes(7))  # the second record's speed, as in the first (the dump ends there)


def transcend_pro_block(a119s: bytes) -> bytes:
    """A type 17 block whose position is also stored as doubles at 0x70 / 0x80 (Driver Pro 230)."""
    data = bytearray(pad(a119s, 0x100))
    lat, lon = struct.unpack_from("<ff", data, 0x4C)
    struct.pack_into("<d", data, 0x70, lat + 0.0004321)
    struct.pack_into("<d", data, 0x80, lon - 0.0002468)
    return bytes(data)


def unknown_block() -> bytes:
    """A block from a camera no layout knows: its own header, then binary values at its own offsets."""
    payload = b"ZZCAM-9000\0\0" + struct.pack("<6I2d", 12, 30, 5, 2024, 5, 1, 48.137154, 11.576124)
    return pad(struct.pack(">I", 0x8000) + b"freeGPS " + struct.pack("<I", 0x1F0) + payload)


# ---------------------------------------------------------------------------------------------------
# Dashcams writing their own samples into a `gpmd` track (ExifTool's gpmd_* conditions).

VANTRUE_N2S_FMAS = hexdump("""
0000: 46 4d 41 53 00 00 00 00 00 00 00 00 00 00 00 00
0010: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0020: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0030: 02 08 01 08 06 08 02 04 07 02 06 00 00 00 00 00
0040: 00 00 00 00 00 00 00 00 4f 46 4e 49 4d 4d 41 53
0050: 53 41 4d 4d 01 00 00 00 00 00 00 00 00 00 00 00
0060: e5 07 09 18 08 00 22 00 02 00 00 00 a1 82 8a bf
0070: 89 23 8e bd 0b 2c 30 bc 41 57 4e 51 16 00 a1 01
0080: 29 26 27 0c 4b 00 49 00 00 00 00 00 00 00 00 00
0090: 00 00 00 00 00 00 00 00 00 52 00 00 00 00 00 00
""")
WOLFBOX_G900 = hexdump("""
0000: 65 00 00 00 00 00 00 00 31 01 01 00 e3 ff 00 00
0010: 04 00 00 00 10 00 00 00 2a 00 00 00 00 00 00 00
0020: 01 00 00 00 00 00 00 00 8b 33 ff 51 00 00 00 00
0030: a0 86 01 00 00 00 00 00 4d 5e 07 fa ff ff ff ff
0040: a0 86 01 00 00 00 00 00 00 00 00 00 00 00 00 00
0050: 64 00 00 00 00 00 00 00 90 21 00 00 00 00 00 00
0060: 64 00 00 00 00 00 00 00 18 00 00 00 03 00 00 00
0070: e8 07 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0080: 00 00 00 00 00 00 00 00 30 30 30 30 30 30 30 30
0090: 30 30 30 30 30 30 30 30 48 59 54 48 00 00 00 00
00a0: 0c 00 00 00 10 00 00 00 2a 00 00 00 00 00 00 00
00b0: 4f 3f 0c 1f 00 00 00 00 a0 86 01 00 00 00 00 00
00c0: 7f cf 2d ff ff ff ff ff a0 86 01 00 00 00 00 00
00d0: 01 00 00 00 08 00 00 00 0a 00 00 00 00 00 00 00
00e0: 0a 00 00 00 00 00 00 00 e8 03 00 00 00 00 00 00
00f0: 0a 00 00 00 00 00 00 00 4d 00 00 00 00 00 00 00
""")
REDTIGER_F9 = hexdump("""
0000: 01 00 00 00 00 00 00 00 f4 ff 5d fe 24 00 00 00
0010: 10 00 00 00 2d 00 00 00 25 00 00 00 00 00 00 00
0020: 01 00 00 00 00 00 00 00 44 eb 8f 00 00 00 00 00
0030: 10 27 00 00 00 00 00 00 1b 94 8a 04 00 00 00 00
0040: 10 27 00 00 00 00 00 00 8c 69 00 00 00 00 00 00
0050: e8 03 00 00 00 00 00 00 ba 47 00 00 00 00 00 00
0060: 64 00 00 00 00 00 00 00 19 00 00 00 05 00 00 00
0070: e9 07 00 00 00 00 00 00 00 00 00 00 00 00 00 00
0080: 00 00 00 00 00 00 00 00 30 30 30 30 30 30 30 30
0090: 30 30 30 30 30 30 30 30 58 58 58 58 00 00 00 00
00a0: 08 00 00 00 2d 00 00 00 24 00 00 00 00 00 00 00
00b0: 90 eb 8f 00 00 00 00 00 10 27 00 00 00 00 00 00
00c0: 20 94 8a 04 00 00 00 00 10 27 00 00 00 00 00 00
00d0: 01 00 00 00 11 00 00 00 40 00 00 00 00 00 00 00
00e0: 64 00 00 00 00 00 00 00 8a 00 00 00 00 00 00 00
00f0: 0a 00 00 00 00 00 00 00 4d 00 00 00 00 00 00 00
""")
# Kingslim D4: a freeGPS payload without its header; LIGOGPSINFO at 80. The dump ends 20 bytes into the
# first encrypted record ("2021/06/03 1"); the record is completed like the iiway one.
KINGSLIM_HEAD = hexdump("""
0000: 0a 00 00 00 0b 00 00 00 07 00 00 00 e5 07 00 00
0010: 06 00 00 00 03 00 00 00 41 4e 57 31 91 52 83 45
0020: 15 70 fe c5 29 5c c3 41 ae c7 af 42 00 00 d1 be
0030: 00 00 80 3b 00 00 2c 3e 00 00 00 00 00 00 00 00
0040: 00 00 00 00 00 00 00 00 00 00 00 00 26 26 26 26
0050: 4c 49 47 4f 47 50 53 49 4e 46 4f 00 00 00 00 05
0060: 01 00 00 00
""")
KINGSLIM_RECORD_START = bytes.fromhex("c022202020f012101221e50e10122f90101301")
KINGSLIM_TEXT = b"0:11:07 N:43.123456 W:79.654321 31.50 km/h A:270.5"


def kingslim_sample() -> bytes:
    return pad(KINGSLIM_HEAD + ligo_record(KINGSLIM_RECORD_START + ligo_encrypt(KINGSLIM_TEXT)), 0x200)


# An enciphered LIGOGPSINFO camera (forum16060): the dump's header, and records enciphered with a table that
# agrees with its first record ("FDF1/D9/E8 D=LGJL98" reads 2023/05/16 07:48:56 with it).
FORUM16060_HEAD = hexdump("""
0000: 00 00 40 00 66 72 65 65 47 50 53 20 98 00 00 00
0010: 4c 49 47 4f 47 50 53 49 4e 46 4f 00 00 00 00 0d
0020: 0a 00 00 00
""")
SUBSTITUTION = bytes.maketrans(b"0123456789:NW", b"DEF1G98=J3LKM")


def enciphered_block(second: int) -> bytes:
    """The block written ``second`` seconds after 07:48:56: lat 51.12..., lon -0.65... (fuzzed), 30 knots."""
    minute, sec = divmod(48 * 60 + 56 + second, 60)
    text = b"2023/05/16 07:%02d:%02d N:51.%06d W:-0.654321 30.00 km/h" % (minute, sec, 123456 + 10 * second)
    return pad(FORUM16060_HEAD + (b"####;\0\xa04" + text.translate(SUBSTITUTION)).ljust(0x84, b"\0"), 0x200)
