"""GPS that is not in freeGPS blocks: GoPro GPMF (a real clip), Google camm, BlackVue NMEA, 70mai's box."""

from __future__ import annotations

import base64
import csv
import json
import struct
from datetime import datetime, timezone
from pathlib import Path

import pytest

from dashcam.gps import read_track
from dashcam.gps.writer import FTYP, mvhd_box, wrap_samples
from tests.gps import dumps as d
from tests.gps.dumps import box
from tests.support import testdata_file as data_file

UTC = timezone.utc
GOPRO = "gps/gopro_negative/hero5-trimmed.mp4"


def test_gopro_gpmf_matches_exiftools_36_points() -> None:
    with open(data_file("gps/gopro_negative/hero5-trimmed.exiftool12.57.csv"), newline="") as f:
        rows = list(csv.DictReader(f))

    track = read_track(data_file(GOPRO))

    assert track.source == "gpmd" and track.layout == "gopro-gpmf" and track.reason is None
    assert len(track.points) == len(rows) == 36
    for got, row in zip(track.points, rows, strict=True):
        assert got.lat == pytest.approx(float(row["lat"]), abs=1e-5)
        assert got.lon == pytest.approx(float(row["lon"]), abs=1e-5)
        assert got.speed_kmh == pytest.approx(float(row["speed2d_mps"]) * 3.6, abs=1e-3)
    # each 18-point sample starts at its GPSU time and its play time
    assert track.points[0].time_utc == datetime(2017, 4, 17, 17, 31, 3, tzinfo=UTC)
    assert track.points[18].time_utc == datetime(2017, 4, 17, 17, 31, 3, 985_000, tzinfo=UTC)
    assert track.points[0].t == 0.0 and track.points[18].t == pytest.approx(1.001)
    assert track.at(0.5) is not None


def _camm6(when: float, fix: int, lat: float, lon: float, alt: float, east: float, north: float) -> bytes:
    # reserved, type 6, time, fix type, lat, lon (doubles), altitude, accuracies, velocity E/N/U, speed accuracy
    return struct.pack("<HHdiddfffffff", 0, 6, when, fix, lat, lon, alt, 1.5, 2.5, east, north, 0.1, 0.3)


def test_camm_type6_and_type5(tmp_path: Path) -> None:
    samples = [
        _camm6(1_700_000_000.0, 3, 52.5200066, 13.4049540, 34.5, 3.0, 4.0),
        _camm6(1_700_000_001.0, 3, 52.5200466, 13.4050540, 34.7, 3.0, 4.0),
        _camm6(1_700_000_002.0, 0, 52.5201, 13.4051, 0.0, 0.0, 0.0),  # fix type 0: "no measurement"
        struct.pack("<HHddd", 0, 5, 52.52005, 13.40506, 35.0),  # type 5: a position without time
    ]
    path = tmp_path / "camm.mp4"
    wrap_samples(samples, path, fmt=b"camm")

    track = read_track(path)

    assert track.source == "camm" and track.layout == "camm"
    assert [p.t for p in track.points] == [0.0, 1.0, 3.0]
    first, second, untimed = track.points
    # ExifTool: Unix seconds (within five years of the file date, which is unset here)
    assert first.time_utc == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert (first.lat, first.lon) == (52.5200066, 13.4049540)
    assert first.speed_kmh == pytest.approx(5.0 * 3.6)  # |(3, 4)| m/s
    assert second.time_utc == datetime(2023, 11, 14, 22, 13, 21, tzinfo=UTC)
    assert untimed.time_utc is None and (untimed.lat, untimed.lon) == (52.52005, 13.40506)


def test_camm_gps_epoch_when_unix_time_is_years_before_the_file(tmp_path: Path) -> None:
    path = tmp_path / "camm.mp4"
    wrap_samples([_camm6(1_384_035_182.0, 3, 52.5200066, 13.4049540, 34.5, 0, 0)], path, fmt=b"camm")
    data = bytearray(path.read_bytes())
    at = data.find(b"mvhd") + 8  # creation time, seconds since 1904: 2023-11-14 22:13:20 UTC
    struct.pack_into(">I", data, at, 1_700_000_000 + 2_082_844_800)
    path.write_bytes(bytes(data))

    track = read_track(path)

    # 1384035182 as Unix time is 2013: ten years before the file, so it counts from 1980-01-06 (ExifTool)
    assert track.points[0].time_utc == datetime(2023, 11, 14, 22, 13, 2, tzinfo=UTC)


NMEA = (
    b"[1534838400000]$GPRMC,081000.00,A,5130.12345,N,00007.54321,W,10.5,45.6,210818,,,A*6C\r\n"
    b"[1534838400000]$GPGGA,081000.00,5130.12345,N,00007.54321,W,1,08,1.0,35.0,M,47.0,M,,*4F\r\n"
    b"[1534838401000]$GPRMC,081001.00,A,5130.12445,N,00007.54421,W,11.0,46.0,210818,,,A*6C\r\n"
    b"[1534838402000]$GPRMC,081002.00,V,,,,,,,210818,,,N*6C\r\n"
)


def test_blackvue_nmea_in_its_free_box(tmp_path: Path) -> None:
    free = box(b"free", box(b"sttm", struct.pack(">Q", 1_534_838_399_000)) + box(b"gps ", NMEA + b"\0\0"))
    path = tmp_path / "blackvue.mp4"
    path.write_bytes(FTYP + free + box(b"moov", mvhd_box(3)) + box(b"mdat", bytes(16)))

    track = read_track(path)

    assert track.source == "nmea-log" and track.layout == "nmea-log"
    # video seconds from the line timecodes minus `sttm`; the 'V' sentence is no fix
    assert [p.t for p in track.points] == [1.0, 2.0]
    p = track.points[0]
    assert p.time_utc == datetime(2018, 8, 21, 8, 10, tzinfo=UTC)
    assert (p.lat, p.lon) == pytest.approx((51 + 30.12345 / 60, -(7.54321 / 60)), abs=1e-12)
    assert p.speed_kmh == pytest.approx(10.5 * 1.852) and p.heading == 45.6


def test_70mai_gps_box(tmp_path: Path) -> None:
    # 36-byte records: 1, 1, video second, speed * 1000, 'N', DDMM * 1000, 'E', DDMM * 1000; zeros end it
    records = b"".join(
        struct.pack(
            "<IIIIcIcI", 1, 1, s, 45_600 + 100 * s, b"N", 5_115_134 + 10 * s, b"E", 647_540 + 10 * s
        ).ljust(36, b"\0")
        for s in range(3)
    )
    path = tmp_path / "70mai.mp4"
    path.write_bytes(
        FTYP + box(b"moov", mvhd_box(3)) + box(b"GPS ", records + bytes(36)) + box(b"mdat", bytes(8))
    )

    track = read_track(path)

    assert track.source == "70mai-gps-box"
    assert [p.t for p in track.points] == [0.0, 1.0, 2.0]
    assert (track.points[0].lat, track.points[0].lon) == pytest.approx(
        (51 + 15.134 / 60, 6 + 47.54 / 60), abs=1e-12
    )
    assert track.points[2].speed_kmh == pytest.approx(45.8)
    assert track.points[0].time_utc is None  # the box has no date


@pytest.mark.parametrize(
    ("name", "sample", "layout", "want"),
    [
        # Vantrue N2S: 81 deg 22 min + 417/6000 min W, 41 deg 38 min + 3111/6000 min N, 75 mph, 73 deg
        (
            "vantrue-n2s",
            d.VANTRUE_N2S_FMAS,
            "vantrue-fmas",
            (
                datetime(2021, 9, 24, 8, 0, 34, tzinfo=UTC),
                41 + (38 + 3111 / 6000) / 60,
                -(81 + (22 + 417 / 6000) / 60),
                75 * 1.60934,
                73.0,
            ),
        ),
        # Wolfbox G900: int64 / scale pairs, DDMM: 5208.96335 N, -137.74977 (-1 deg 37.74977 min)
        (
            "wolfbox",
            d.WOLFBOX_G900,
            "wolfbox",
            (
                datetime(2024, 3, 24, 12, 16, 42, tzinfo=UTC),
                52 + 8.96335 / 60,
                -(1 + 37.74977 / 60),
                0.0,
                85.92,
            ),
        ),
        (
            "redtiger-f9",
            d.REDTIGER_F9,
            "wolfbox",
            (
                datetime(2025, 5, 25, 8, 45, 36, tzinfo=UTC),
                9 + 43.1952 / 60,
                76 + 19.0752 / 60,
                27.02 * 1.852,
                183.62,
            ),
        ),
        # Kingslim D4: a LIGOGPSINFO payload at 80 (fuzzed, scale 1.524855137; speed * 1.85407333)
        (
            "kingslim",
            d.kingslim_sample(),
            "ligogps",
            (
                datetime(2021, 6, 3, 10, 11, 7, tzinfo=UTC),
                40 + 9.654321 * 1.524855137,
                -(70 + 3.123456 * 1.524855137),
                31.5 * 1.85407333,
                270.5,
            ),
        ),
    ],
)
def test_dashcam_samples_in_a_gpmd_track(
    tmp_path: Path, name: str, sample: bytes, layout: str, want: tuple
) -> None:  # type: ignore[type-arg]
    path = tmp_path / f"{name}.mp4"
    wrap_samples([sample], path, fmt=b"gpmd")

    track = read_track(path)

    assert track.source == "gpmd" and track.layout == layout
    (p,) = track.points
    assert p.time_utc == want[0]
    assert (p.lat, p.lon, p.speed_kmh, p.heading) == pytest.approx(want[1:], abs=1e-9)


def test_rove_encrypted_gpmd_text_is_not_guessed(tmp_path: Path) -> None:
    path = tmp_path / "rove.mp4"
    wrap_samples([b"\0\0\xf2\xe1\xf0\xeeTT" + bytes(120)], path, fmt=b"gpmd")
    track = read_track(path)
    assert track.points == [] and track.reason is not None
    assert track.reason.startswith("GPS layout not recognised") and "Rove" in track.reason


def _gps0(lat: float, lon: float, kmh: int, when: tuple[int, ...], half_track: int) -> bytes:
    record = bytearray(32)
    struct.pack_into("<ddiH", record, 0, lat, lon, 520, kmh)
    record[22:28] = bytes(when)
    record[0x1C] = half_track
    return bytes(record)


def test_gps0_box(tmp_path: Path) -> None:
    # DuDuBell M1 / VSYS M6L: DDMM doubles, km/h, track / 2; a record beyond 9000 / 18000 is skipped
    records = (
        _gps0(4807.1234, 1134.5678, 42, (21, 3, 4, 10, 20, 30), 45)
        + _gps0(4807.1334, 1134.5778, 43, (21, 3, 4, 10, 20, 31), 46)
        + _gps0(99999.0, 0.0, 0, (0, 0, 0, 0, 0, 0), 0)
    )
    path = tmp_path / "gps0.mp4"
    path.write_bytes(FTYP + box(b"moov", mvhd_box(2)) + box(b"gps0", records) + box(b"mdat", bytes(8)))

    track = read_track(path)

    assert track.layout == "gps0" and [p.t for p in track.points] == [0.0, 1.0]
    p = track.points[0]
    assert p.time_utc == datetime(2021, 3, 4, 10, 20, 30, tzinfo=UTC)
    assert (p.lat, p.lon, p.speed_kmh, p.heading) == pytest.approx(
        (48 + 7.1234 / 60, 11 + 34.5678 / 60, 42, 90)
    )


def test_nextbase_gdat_box(tmp_path: Path) -> None:
    fixes = [
        {
            "gpsStatus": "A",
            "datetime": "2021-03-04T10:20:30",
            "lat": 48.1,
            "lon": 11.5,
            "speed": 30,
            "bearing": 90,
        },
        {"gpsStatus": "V", "datetime": "2021-03-04T10:20:31", "lat": 0, "lon": 0},
        {"gpsStatus": "A", "datetime": "2021-03-04T10:20:32", "lat": 48.1002, "lon": 11.5002, "speed": 31},
    ]
    payload = base64.b64encode(json.dumps({"cameraModel": "622GW", "gpsData": fixes}).encode())
    path = tmp_path / "gdat.mp4"
    path.write_bytes(FTYP + box(b"moov", mvhd_box(3)) + box(b"gdat", payload) + box(b"mdat", bytes(8)))

    track = read_track(path)

    assert track.layout == "nextbase-gdat" and [p.t for p in track.points] == [0.0, 2.0]
    assert track.points[0].speed_kmh == pytest.approx(30 * 1.60934)  # mph
    assert track.points[1].time_utc == datetime(2021, 3, 4, 10, 20, 32, tzinfo=UTC)
