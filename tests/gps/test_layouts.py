"""One test per freeGPS layout: ExifTool 13.58's documented block in an MP4, the values its code yields.

Expected values follow ExifTool's arithmetic (QuickTimeStream.pl, ProcessFreeGPS and LigoGPS.pm); the
derivation is written beside the less obvious ones. Each was also checked by running ExifTool 13.58 on the
same fixture (``exiftool -ee -n``), except where we deliberately differ, which the test says.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from dashcam.gps import read_track
from dashcam.gps.layouts import LAYOUTS
from tests.gps import dumps as d
from tests.support import testdata_file as data_file

UTC = timezone.utc
KNOTS = 1.852


@dataclass(frozen=True)
class Want:
    time: datetime | None
    lat: float
    lon: float
    speed: float | None = None
    heading: float | None = None


def _a119s() -> bytes:
    return data_file("gps/exiftool_blocks/viofo_a119s_type16.bin").read_bytes()


CASES: dict[str, tuple[str, object, list[Want]]] = {
    # Type 1, Azdome GS63H: "N40464350W007040308" + "00000007" -> 4046.4350 -> 40 + 46.435/60; speed 7.
    "azdome": (
        "xor-text",
        lambda: [d.xor_block(d.AZDOME_HEAD, d.AZDOME_CLEAR)],
        [Want(datetime(2018, 9, 24, 22, 49, 28, tzinfo=UTC), 40 + 46.435 / 60, -(7 + 4.0308 / 60), 7.0)],
    ),
    # Type 1, EEEkit (the whole decrypted dump): "+0175" altitude then "011" -> 11 km/h.
    "eeekit": (
        "xor-text",
        lambda: [d.pad(d.xor_block(d.EEEKIT_HEAD, d.EEEKIT_CLEAR))],
        [Want(datetime(2020, 5, 19, 16, 23, 35, tzinfo=UTC), 37 + 45.2416 / 60, -(122 + 25.5009 / 60), 11.0)],
    ),
    # Type 4, E-ACE B44: base64 + RC4 ("luckychip gps" family) lat/lon strings in DDMM.
    "e-ace": (
        "lucky",
        lambda: [d.pad(d.E_ACE)],
        [
            Want(
                datetime(2024, 8, 16, 8, 34, 1, tzinfo=UTC),
                43.7121093833333,
                20.6945800833333,
                39.8717067565918,
                157.229995727539,
            )
        ],
    ),
    # Type 5, iiway S1: "N:31.285065 W:124.759483", unfuzzed with scale 1.524855137:
    # lat = 30 + (124.759483 - 120) * s, lon = 120 + (31.285065 - 30) * s; speed 46.93 * 1.85407333.
    "iiway": (
        "ligogps",
        lambda: [d.iiway_block()],
        [
            Want(
                datetime(2022, 2, 3, 22, 45, 24, tzinfo=UTC),
                30 + 4.759483 * 1.524855137,
                -(120 + 1.285065 * 1.524855137),
                46.93 * 1.85407333,
                123.4,
            )
        ],
    ),
    # Type 5, ABASK A8: the same record, scale 3 (1.15368) because the word at 0x20 is zero.
    "abask": (
        "ligogps",
        lambda: [d.iiway_block(d.ABASK_HEAD)],
        [
            Want(
                datetime(2022, 2, 3, 22, 45, 24, tzinfo=UTC),
                30 + 4.759483 * 1.15368,
                -(120 + 1.285065 * 1.15368),
                46.93 * 1.85407333,
                123.4,
            )
        ],
    ),
    # Type 5, Redtiger F9: a clear-text record: not fuzzed, speed already km/h.
    "redtiger": (
        "ligogps",
        lambda: [d.pad(d.IIWAY_HEAD + d.REDTIGER_TEXT.ljust(0x84, b"\0"), 0x200)],
        [Want(datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), 31.285065, 121.123456, 50.5, 90.0)],
    ),
    # Type 6, Akaso: speed unconverted, track + 180 for "x.xx" cameras.
    "akaso": (
        "akaso",
        lambda: [d.pad(d.AKASO)],
        [
            Want(
                datetime(2020, 1, 12, 18, 47, 25, tzinfo=UTC),
                16.3599344889323,
                80.8378336588542,
                22.6166248321533,
                285.910003662109,
            )
        ],
    ),
    "anticlock": (
        "akaso",
        lambda: [d.pad(d.ANTICLOCK)],
        [
            Want(
                datetime(2020, 11, 25, 14, 56, 34, tzinfo=UTC),
                -26.5036865234375,
                31.3068969726563,
                0.518559992313385,
                12.1700000762939,
            )
        ],
    ),
    # Type 7: "$GPRMC,145112.00,A,5103.17984,N,01632.99025,E,57.531,..." after subtracting 16.
    "zxsbnxys": (
        "rmc-shift16",
        lambda: [d.pad(d.ZXSBNXYS + d.ZXSBNXYS_TAIL)],
        [
            Want(
                datetime(2019, 6, 15, 14, 51, 12, tzinfo=UTC),
                51 + 3.17984 / 60,
                16 + 32.99025 / 60,
                57.531 * KNOTS,
                123.45,
            )
        ],
    ),
    # Type 10, Vantrue S1: longitude stored before latitude.
    "vantrue-s1": (
        "vantrue-s1",
        lambda: [d.pad(d.VANTRUE_S1)],
        [
            Want(
                datetime(2021, 7, 2, 3, 53, 5, tzinfo=UTC),
                51.5830891927083,
                8.29695536295573,
                141.452052947998,
                86.370002746582,
            )
        ],
    ),
    # Type 11: int32 * 1e7 degrees, speed m/s * 100, heading int16 * 100 (-90.5 -> 269.5).
    "atc": (
        "atc",
        d.atc_blocks,
        [
            Want(datetime(2015, 5, 15, 19, 30, 10, tzinfo=UTC), 48.1234567, -122.7654321, 45.0, 269.5),
            Want(datetime(2015, 5, 15, 19, 30, 11, tzinfo=UTC), 48.1235567, -122.7655321, 45.9, 269.75),
            Want(datetime(2015, 5, 15, 19, 30, 12, tzinfo=UTC), 48.1236567, -122.7656321, 46.8, 179.0),
        ],
    ),
    # Type 12: DDMM doubles.
    "doubles": (
        "doubles-0x40",
        lambda: [d.doubles_block()],
        [
            Want(
                datetime(2017, 6, 10, 14, 21, 9, tzinfo=UTC),
                48 + 7.03812 / 60,
                11 + 31.0001 / 60,
                23.4 * KNOTS,
                271.5,
            )
        ],
    ),
    # Type 13, INNOVV: two records, no time.
    "innovv": (
        "innovv",
        lambda: [d.pad(d.INNOVV)],
        [
            Want(None, 48.1810221354167, 16.3591267903646, 13.1121598587036, 216.199996948242),
            Want(None, 48.1810139973958, 16.3591186523437, 14.5011598587036, 214.460006713867),
        ],
    ),
    # Type 14, XBHT: 0x02c53d44 = 46480708 -> 4648.0708 -> 46.80118; tenths of seconds in byte 7.
    "xbht": (
        "xbht",
        lambda: [d.xbht_block()],
        [
            Want(datetime(2023, 5, 17, 13, 37, 24, tzinfo=UTC), 46.80118, 134.30028, 107.0),
            Want(
                datetime(2023, 5, 17, 13, 37, 24, 100_000, tzinfo=UTC),
                46.8011466666667,
                134.300293333333,
                107.0,
            ),
        ],
    ),
    # Type 16, IQS: int32 decimal degrees * 1e7, speed m/s * 100.
    "iqs": (
        "iqs",
        lambda: [d.iqs_block()],
        [Want(datetime(2017, 3, 29, 16, 5, 7, tzinfo=UTC), -33.9012345, 151.2345678, 12.34 * 3.6)],
    ),
    # Type 17b, Rexing V1-4K (file has `frea`/`ver ` 3.01.054): (lat - 187.982162849635) / 3, (lon - 2199.19873715495) / 2.
    "rexing": (
        "rexing-scaled",
        lambda: [d.pad(d.REXING)],
        [
            Want(
                datetime(2020, 2, 22, 14, 34, 40, tzinfo=UTC),
                33.6697742486894,
                -112.096920485025,
                92.603701965332,
                266.859985351562,
            )
        ],
    ),
    # Type 17c, Transcend Drive Body Camera 70: 0x4000-byte block, values already degrees and km/h.
    "transcend": (
        "transcend-degrees",
        lambda: [d.pad(d.TRANSCEND)],
        [
            Want(
                datetime(2025, 5, 16, 9, 38, 21, tzinfo=UTC),
                -29.7936630249023,
                30.8879985809326,
                8.96368026733398,
                307.200012207031,
            )
        ],
    ),
    # Type 17 with the Driver Pro 230's doubles at 0x70 / 0x80 (within 0.001 of the floats: they win).
    "transcend-pro": (
        "novatek-0x30",
        lambda: [d.transcend_pro_block(_a119s())],
        [
            Want(
                datetime(2017, 12, 31, 16, 45, 20, tzinfo=UTC),
                54.4549307042708,
                18.5493021203906,
                13.9085204238892,
                330.739990234375,
            )
        ],
    ),
    # Type 18, XGODY: decimal degrees; "53.6" (labelled km/h) is knots to ExifTool: 53.6 * 1.852.
    "xgody": (
        "xgody-text",
        lambda: [d.pad(d.XGODY)],
        [Want(datetime(2024, 5, 22, 2, 54, 29, tzinfo=UTC), 42.38247, -83.38957, 53.6 * KNOTS, 269.2)],
    ),
    # Type 19, 70mai A810: int32 0x1e7d1366 / 1e5 = 5115.13446 DDMM; no time.
    "70mai": (
        "70mai",
        lambda: [d.pad(d.MAI70)],
        [Want(None, 51 + 15.13446 / 60, 6 + 47.5398 / 60, 1.0)],
    ),
    # Type 20, Nextbase 512G: big-endian; every record (ExifTool stops after the first, see the module doc).
    "nextbase": (
        "nextbase-be",
        lambda: [d.pad(d.NEXTBASE_512G)],
        [
            Want(
                datetime(2018, 10, 8, 6, 42, 46, 500_000, tzinfo=UTC),
                53.8220799,
                -1.4588009,
                6.33 * 3.6,
                360 - 111.31,
            ),
            Want(
                datetime(2018, 10, 8, 6, 42, 46, 600_000, tzinfo=UTC),
                53.8220771,
                -1.4588101,
                6.74 * 3.6,
                360 - 111.98,
            ),
        ],
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_layout_decodes_like_exiftool(name: str, tmp_path: Path) -> None:
    layout, blocks, wants = CASES[name]
    path = d.clip(tmp_path / f"{name}.mp4", blocks(), before_moov=d.REXING_FREA if name == "rexing" else b"")  # type: ignore[operator]

    track = read_track(path)

    assert track.reason is None and track.layout == layout
    assert len(track.points) == len(wants)
    for got, want in zip(track.points, wants, strict=True):
        assert got.time_utc == want.time
        assert (got.lat, got.lon) == pytest.approx((want.lat, want.lon), abs=1e-9)
        assert got.speed_kmh == (pytest.approx(want.speed, abs=1e-6) if want.speed is not None else None)
        assert got.heading == (pytest.approx(want.heading, abs=1e-6) if want.heading is not None else None)


def test_multi_record_blocks_spread_over_their_second(tmp_path: Path) -> None:
    track = read_track(d.clip(tmp_path / "x.mp4", [d.xbht_block(), d.xbht_block()]))
    # the second block repeats the first's two records: kept once, at video seconds 0 and 0.5
    assert [p.t for p in track.points] == [0.0, 0.5]
    track = read_track(d.clip(tmp_path / "n.mp4", [d.pad(d.NEXTBASE_512G)]))
    assert [p.t for p in track.points] == [0.0, 0.5]


def test_rexing_without_its_version_box_is_not_guessed(tmp_path: Path) -> None:
    # Without the `frea` version the block reads as a plain type 17, whose latitude float 288.99 is not
    # DDMM (88.99 minutes): ExifTool prints 3.48 N for it; here it is reported, not placed.
    track = read_track(d.clip(tmp_path / "plain.mp4", [d.pad(d.REXING)]))
    assert track.points == []
    assert track.reason is not None and track.reason.startswith(
        "GPS layout not recognised (block header 00008000"
    )
    assert "novatek-0x30" in track.reason


def test_ring_buffer_records_before_the_video_are_dropped(tmp_path: Path) -> None:
    # a first block already holding three records: only the newest is at or after second 0
    blocks = [d.pad(d.ATC_HEAD + b"".join(d.ATC_RECORDS), 0x100)]
    track = read_track(d.clip(tmp_path / "atc.mp4", blocks))
    assert [(p.t, p.time_utc.second if p.time_utc else None) for p in track.points] == [(0.0, 12)]


def test_readme_lists_every_layout() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    table = readme[readme.index("### GPS: supported cameras and layouts") :]
    streams = (
        "gopro-gpmf",
        "vantrue-fmas",
        "wolfbox",
        "camm",
        "nmea-log",
        "70mai-gps-box",
        "gps0",
        "nextbase-gdat",
    )
    names = {
        n for layout in LAYOUTS if not layout.name.endswith(("-encrypted", "status-v")) for n in layout.names
    }
    for name in sorted(names | set(streams)):
        assert f"`{name}`" in table, name


def test_enciphered_ligogps_is_learnt_from_the_clip(tmp_path: Path) -> None:
    # Twelve seconds: the ones digit of the seconds cycles through all ten enciphered digits at 07:49:06,
    # then every record held back is deciphered and placed at its own second (as ExifTool 13.58 prints).
    track = read_track(d.clip(tmp_path / "enc.mp4", [d.enciphered_block(i) for i in range(12)]))

    s = 1.524855137  # fuzzed, scale 1: lat = 50 + (0.654321 - 0) * s, lon = -(0 + (51.12.. - 50) * s)
    assert track.layout == "ligogps" and [p.t for p in track.points] == [float(i) for i in range(12)]
    for i, p in enumerate(track.points):
        assert p.time_utc == datetime(2023, 5, 16, 7, 48, 56, tzinfo=UTC) + timedelta(seconds=i)
        assert (p.lat, p.lon) == pytest.approx((50 + 0.654321 * s, -((1.123456 + 1e-5 * i) * s)), abs=1e-9)
        assert p.speed_kmh == pytest.approx(30 * 1.85407333)


def test_enciphered_ligogps_too_short_or_without_hemisphere_is_not_guessed(tmp_path: Path) -> None:
    short = read_track(d.clip(tmp_path / "short.mp4", [d.enciphered_block(i) for i in range(5)]))
    assert short.points == [] and short.reason is not None
    assert (
        short.reason.startswith("GPS layout not recognised (block header 00004000")
        and "cipher" in short.reason
    )
    # no minus sign anywhere: N/S and E/W stay unknown (ExifTool assumes north-east and warns)
    unsigned = [block.replace(b"ML-D.", b"MLD.") for block in (d.enciphered_block(i) for i in range(12))]
    track = read_track(d.clip(tmp_path / "unsigned.mp4", unsigned))
    assert track.points == [] and track.reason is not None and "hemisphere unknown" in track.reason


def test_records_beyond_the_first_kilobyte_are_read(tmp_path: Path) -> None:
    # 40 Nextbase records (10 Hz for 4 s) run to 0x530: past the 0x400 bytes read to recognise a block
    records = []
    for k in range(40):
        rec = bytearray(d.NEXTBASE_512G[0x30:0x50])
        struct.pack_into(">H", rec, 0x0C, 465 + k)  # tenths of seconds
        struct.pack_into(">i", rec, 0x0F, 538_220_799 + 100 * k)  # latitude * 1e7, creeping north
        records.append(bytes(rec))
    block = d.pad(d.NEXTBASE_512G[:0x30] + b"".join(records), 0x800)

    track = read_track(d.clip(tmp_path / "long.mp4", [block]))

    assert len(track.points) == 40
    assert track.points[-1].time_utc == datetime(2018, 10, 8, 6, 42, 50, 400_000, tzinfo=UTC)
    assert track.points[-1].lat == pytest.approx(53.8220799 + 39 * 1e-5, abs=1e-9)
