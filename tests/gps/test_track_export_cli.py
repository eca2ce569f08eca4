"""Track API (interpolation, gaps, nearest place, camera clock), exports and the `dashcam gps` command."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dashcam.cli import app
from dashcam.gps import Fix, Track, estimate_utc_offset, nearest_clip, read_track, to_csv, to_geojson, to_gpx
from dashcam.gps.layouts import decode_block
from dashcam.gps.reader import build_track
from dashcam.gps.track import distance_m, judge_clock
from dashcam.gps.writer import FTYP, encode_block, mvhd_box, wrap_blocks
from tests.gps.dumps import box
from tests.support import testdata_file as data_file

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
GPX = "{http://www.topografix.com/GPX/1/1}"


def fix(t: float, lat: float, lon: float, speed: float = 36.0, heading: float = 0.0) -> Fix:
    return Fix(t, T0 + timedelta(seconds=t), lat, lon, speed, heading)


def straight_track() -> Track:
    # north at 10 m/s (36 km/h): 1 second = ~0.0000899 degrees of latitude
    step = 10 / 111_195
    return Track([fix(i, 48.0 + i * step, 11.0) for i in (0, 1, 2, 3)] + [fix(10, 48.0 + 10 * step, 11.0)])


def test_at_exact_and_interpolated() -> None:
    track = straight_track()
    assert track.at(1) == track.points[1]
    mid = track.at(1.5)
    assert mid is not None
    assert mid.lat == pytest.approx((track.points[1].lat + track.points[2].lat) / 2)
    assert mid.time_utc == T0 + timedelta(seconds=1.5)
    assert distance_m(track.points[0].lat, 11.0, mid.lat, 11.0) == pytest.approx(15.0, rel=1e-3)


def test_at_gap_and_ends() -> None:
    track = straight_track()
    assert track.at(6) is None  # 3 -> 10 is a 7 s gap
    assert track.at(-0.5) == track.points[0]  # the first block covers its whole second
    assert track.at(-2) is None
    assert track.at(10.9) == track.points[-1]
    assert track.at(12) is None
    assert Track().at(0) is None


def test_heading_interpolates_the_short_way() -> None:
    track = Track([fix(0, 48, 11, heading=350), fix(1, 48, 11.0001, heading=10)])
    mid = track.at(0.5)
    assert mid is not None and mid.heading == pytest.approx(0.0, abs=1e-9)


def test_nearest_and_nearest_clip() -> None:
    a = straight_track()
    b = Track([fix(0, 50.0, 30.0), fix(1, 50.0001, 30.0)], path="b.mp4")
    hit = a.nearest(48.0 + 2 * 10 / 111_195, 11.0)
    assert hit is not None and hit[0].t == 2 and hit[1] < 0.5
    sighting = nearest_clip([a, b], 50.0001, 30.00001)
    assert sighting is not None and sighting.track is b and sighting.t == 1
    assert sighting.distance_m == pytest.approx(0.715, abs=0.05)
    assert nearest_clip([], 0, 0) is None


def test_spike_is_filtered() -> None:
    pts = [fix(i, 48.0 + i * 0.0001, 11.0) for i in range(5)]
    pts[2] = fix(2, 49.0, 11.0)  # 110 km away for one second
    records = [(int(p.t), decode_block(encode_block(p, size=256))) for p in pts]
    track = build_track(records, source="gps-index")
    assert [p.t for p in track.points] == [0, 1, 3, 4]


def test_spike_at_the_start_is_filtered() -> None:
    pts = [fix(0, 10.0, 11.0)] + [fix(i, 48.0 + i * 0.0001, 11.0) for i in range(1, 4)]
    records = [(int(p.t), decode_block(encode_block(p, size=256))) for p in pts]
    assert [p.t for p in build_track(records, source="gps-index").points] == [1, 2, 3]


def test_utc_offset_from_file_name_time() -> None:
    # a Viofo named 20240501140000 (local) whose GPS says 11:59:58 UTC at second 0 -> UTC+2
    assert estimate_utc_offset(datetime(2024, 5, 1, 14, 0, 0), T0 - timedelta(seconds=2), 0) == 7200
    assert (
        estimate_utc_offset(datetime(2024, 5, 1, 6, 30, 0), T0 + timedelta(seconds=30), 30)
        == -5 * 3600 - 1800
    )
    assert estimate_utc_offset(datetime(2030, 1, 1), T0, 0) is None  # no time zone is years away


def test_read_track_records_utc_offset(tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    wrap_blocks([encode_block(fix(i, 48.0, 11.0 + i * 1e-4)) for i in range(3)], clip)
    track = read_track(clip, local_start=datetime(2024, 5, 1, 21, 0, 1))  # Japan, UTC+9
    assert track.utc_offset_s == 9 * 3600
    assert track.local_time_as_utc is False
    assert read_track(clip).utc_offset_s is None


def test_clock_without_jump_is_not_local() -> None:
    no_fix = [(0.0, T0), (1.0, T0 + timedelta(seconds=1))]
    assert not judge_clock(no_fix, [(2.0, T0 + timedelta(seconds=2))]).local_time_as_utc
    assert judge_clock(no_fix, [(2.0, T0 + timedelta(hours=-5, seconds=2))]).offset_s == -5 * 3600


def test_gpx_is_valid_gpx_1_1() -> None:
    track = straight_track()
    root = ET.fromstring(to_gpx(track))
    assert root.tag == f"{GPX}gpx" and root.get("version") == "1.1"
    segs = root.findall(f"{GPX}trk/{GPX}trkseg")
    assert [len(s) for s in segs] == [4, 1]  # the 7 s gap splits the track
    first = segs[0][0]
    assert float(first.get("lat", "")) == pytest.approx(48.0)
    assert first.find(f"{GPX}time").text == "2024-05-01T12:00:00Z"  # type: ignore[union-attr]


def test_geojson_and_csv() -> None:
    track = straight_track()
    doc = json.loads(to_geojson(track))
    geom = doc["features"][0]["geometry"]
    assert geom["type"] == "MultiLineString"
    assert geom["coordinates"][0][0] == [11.0, 48.0]  # GeoJSON is lon, lat
    assert doc["features"][0]["properties"]["coordTimes"][1] == ["2024-05-01T12:00:10Z"]
    rows = list(csv.DictReader(io.StringIO(to_csv(track))))
    assert len(rows) == 5 and rows[0]["time_utc"] == "2024-05-01T12:00:00Z"
    assert float(rows[-1]["speed_kmh"]) == 36.0
    assert json.loads(to_geojson(Track()))["features"] == []


runner = CliRunner()


@pytest.mark.parametrize("fmt", ["gpx", "geojson", "csv", "json"])
def test_cli_formats(fmt: str) -> None:
    path = data_file("gps/vantrue_fixtures/vantrue-n2x.mp4")
    result = runner.invoke(app, ["gps", str(path), "--format", fmt])
    assert result.exit_code == 0, result.output
    out = result.stdout
    if fmt == "gpx":
        assert len(ET.fromstring(out).findall(f"{GPX}trk/{GPX}trkseg/{GPX}trkpt")) == 3
    elif fmt == "geojson":
        assert len(json.loads(out)["features"][0]["geometry"]["coordinates"][0]) == 3
    elif fmt == "csv":
        assert len(out.strip().splitlines()) == 4
    else:
        assert [p["time_utc"] for p in json.loads(out)["points"]][0] == "2025-06-07T18:06:17Z"


def test_cli_json_flag_and_no_gps(tmp_path: Path) -> None:
    path = tmp_path / "no-gps.mp4"
    path.write_bytes(FTYP + box(b"moov", mvhd_box(2)) + box(b"mdat", bytes(64)))
    result = runner.invoke(app, ["gps", str(path), "--json"])
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["points"] == [] and doc["reason"] == "no GPS track" and doc["layout"] is None
    assert "no GPS track" in result.stderr


def test_cli_unreadable_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"this is not a video at all, just text")
    result = runner.invoke(app, ["gps", str(bad)])
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1 and "not an MP4" in result.stderr
