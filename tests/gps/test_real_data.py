"""Real freeGPS bytes from real cameras, checked against what ExifTool and the fixtures' README say."""

from __future__ import annotations

import csv
import struct
from datetime import datetime, timezone
from pathlib import Path

import pytest

from dashcam.gps import read_track
from dashcam.gps.layouts import decode_block
from dashcam.gps.writer import wrap_blocks
from tests.support import testdata_file as data_file

BLOCKS = "gps/exiftool_blocks"


def _expected() -> list[dict[str, str]]:
    with open(data_file(f"{BLOCKS}/expected_exiftool.csv"), newline="") as f:
        return list(csv.DictReader(f))


def _exif_time(text: str) -> datetime:
    return datetime.strptime(text.rstrip("Z").split(".")[0], "%Y:%m:%d %H:%M:%S").replace(tzinfo=timezone.utc)


EXPECTED_FILES = [
    "viofo_a119v3_type3.bin",
    "viofo_a119s_type16.bin",
    "vantrue_n4_type15.bin",
    "nextbase_512gw_type2.bin",
    "kenwood_drv-a510w_type3.bin",
    "eeekit_type1.bin",
]


@pytest.mark.parametrize("name", EXPECTED_FILES)
def test_exiftool_block_decodes_like_exiftool(name: str, tmp_path: Path) -> None:
    row = next(r for r in _expected() if r["file"] == name)
    block = data_file(f"{BLOCKS}/{name}").read_bytes()
    clip = tmp_path / "clip.mp4"
    wrap_blocks([block], clip)

    track = read_track(clip)

    assert track.source == "gps-index"
    assert len(track.points) == 1, track.reason
    fix = track.points[0]
    assert fix.t == 0
    assert fix.time_utc == _exif_time(row["GPSDateTime_UTC"])
    assert fix.lat == pytest.approx(float(row["GPSLatitude"]), abs=1e-6)
    assert fix.lon == pytest.approx(float(row["GPSLongitude"]), abs=1e-6)
    if row["GPSSpeed_kmh"]:
        assert fix.speed_kmh == pytest.approx(float(row["GPSSpeed_kmh"]), abs=1e-3)
    else:
        assert fix.speed_kmh is None
    if row["GPSTrack_deg"]:
        assert fix.heading == pytest.approx(float(row["GPSTrack_deg"]), abs=1e-3)


def test_every_expected_row_is_covered() -> None:
    assert sorted(r["file"] for r in _expected()) == sorted(EXPECTED_FILES)


def test_a119v3_matches_mapillary_assertion() -> None:
    rec = decode_block(data_file(f"{BLOCKS}/viofo_a119v3_type3.bin").read_bytes())
    assert rec is not None
    when = rec.time_utc()
    assert when is not None and when.timestamp() == 1569563223
    assert (rec.lat, rec.lon) == pytest.approx((49.3690511067708, -123.099755859375), abs=1e-9)


def _a119v3_variant(
    *,
    second: int | None = None,
    lat_ddmm: float | None = None,
    month: int | None = None,
    day: int | None = None,
) -> bytes:
    """The real A119 v3 block with single fields rewritten (a second fix, a bad date)."""
    data = bytearray(data_file(f"{BLOCKS}/viofo_a119v3_type3.bin").read_bytes())
    if second is not None:
        struct.pack_into("<I", data, 0x18, second)
    if month is not None:
        struct.pack_into("<I", data, 0x20, month)
    if day is not None:
        struct.pack_into("<I", data, 0x24, day)
    if lat_ddmm is not None:
        struct.pack_into("<f", data, 0x2C, lat_ddmm)
    return bytes(data)


def test_second_fix_matches_mapillary(tmp_path: Path) -> None:
    # mapillary_tools asserts 4922.155 N 12305.995 W at 05:47:04 -> 49.3692464192708, -123.099918619792
    data = bytearray(_a119v3_variant(second=4, lat_ddmm=4922.155))
    struct.pack_into("<f", data, 0x30, 12305.995)
    rec = decode_block(bytes(data))
    assert rec is not None
    assert (rec.lat, rec.lon) == pytest.approx((49.3692464192708, -123.099918619792), abs=1e-9)


def test_semantics_zero_block_bad_dates_and_repeats(tmp_path: Path) -> None:
    real = _a119v3_variant()
    zero = bytes(4) + b"freeGPS " + bytes(52)
    blocks = [
        real,  # t=0
        real,  # t=1: the camera repeated the fix -> dropped
        zero,  # t=2: all zero -> no fix, a gap
        _a119v3_variant(second=5, month=2, day=30),  # t=3: Feb 30 -> skipped
        _a119v3_variant(second=6, month=13),  # t=4: month 13 -> skipped
        _a119v3_variant(second=7, lat_ddmm=4922.155),  # t=5
    ]
    clip = tmp_path / "clip.mp4"
    wrap_blocks(blocks, clip)

    track = read_track(clip)

    assert [p.t for p in track.points] == [0, 5]
    assert track.blocks == 6
    assert all((p.lat, p.lon) != (0, 0) for p in track.points)
    assert track.at(2) is None  # five seconds without a fix: a gap, not a guess


def test_2e_drive_fixture_scanned() -> None:
    track = read_track(data_file("gps/novatek_fixtures/2e-drive-730.mp4"))
    assert track.source == "scan"
    assert [p.time_utc for p in track.points] == [
        datetime(2021, 10, 13, 15, 37, s, tzinfo=timezone.utc) for s in (57, 58, 59)
    ]
    for i, p in enumerate(track.points):
        assert p.lat == pytest.approx(50.0 + 0.0001 * i, abs=2e-5)
        assert p.lon == pytest.approx(30.0 + 0.0001 * i, abs=2e-5)


def test_silverstone_fixture_scanned() -> None:
    track = read_track(data_file("gps/novatek_fixtures/silverstone-a80.mp4"))
    assert len(track.points) == 3
    assert track.points[0].time_utc == datetime(2019, 2, 16, 12, 7, 49, tzinfo=timezone.utc)
    assert track.points[0].lat == pytest.approx(50.0, abs=1e-6)
    assert track.points[0].lon == pytest.approx(30.0, abs=1e-6)


def test_vantrue_n2x_nmea_fixture() -> None:
    track = read_track(data_file("gps/vantrue_fixtures/vantrue-n2x.mp4"))
    assert [p.time_utc for p in track.points] == [
        datetime(2025, 6, 7, 18, 6, s, tzinfo=timezone.utc) for s in (17, 18, 19)
    ]
    assert [(round(p.lat, 6), round(p.lon, 6)) for p in track.points] == [
        (50.0, 30.0),
        (50.0001, 30.0001),
        (50.0002, 30.0002),
    ]


def test_a119_mini2_coldstart_local_clock_detected() -> None:
    local_start = datetime(2026, 4, 6, 14, 21, 22)  # from 20260406142122_000022.MP4
    track = read_track(
        data_file("gps/novatek_fixtures/viofo-a119-mini2-coldstart.mp4"), local_start=local_start
    )

    assert track.blocks == 8
    assert track.local_time_as_utc is True
    assert track.clock_jump_s == 10_800
    assert track.utc_offset_s == 10_800  # UTC+3
    first = track.points[0]
    assert first.t == 4  # four no-fix blocks first: gaps, not points
    # written as 14:22:05 "UTC" but that is local time: the real UTC is three hours earlier
    assert first.time_utc == datetime(2026, 4, 6, 11, 22, 5, tzinfo=timezone.utc)
    assert (first.lat, first.lon) == pytest.approx((50.0, 30.0), abs=1e-6)
    assert track.at(1) is None
