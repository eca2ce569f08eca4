"""The writer: A129-style blocks into a real ffmpeg clip, read back by us and by `exiftool -ee`."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from dashcam.gps import Fix, read_track, write_gps
from dashcam.gps.writer import write_sparse_clip
from dashcam.video.mp4box import check_complete
from tests.support import need_tool

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
# A known route: south-west of the equator/meridian too, so signs are exercised; second 2 has no fix.
ROUTE = [
    Fix(0, T0, 48.137154, 11.576124, 0.0, 0.0),
    Fix(1, T0 + timedelta(seconds=1), 48.137300, 11.576300, 42.5, 37.25),
    Fix(3, T0 + timedelta(seconds=3), -33.856784, -151.215297, 99.9, 359.5),
    Fix(4, T0 + timedelta(seconds=4), -33.856900, -151.215100, 120.0, 180.0),
]


def _clip(tmp_path: Path, *, faststart: bool) -> Path:
    ffmpeg = need_tool("ffmpeg")
    out = tmp_path / ("fast.mp4" if faststart else "plain.mp4")
    cmd = [ffmpeg, "-v", "error", "-f", "lavfi", "-i", "testsrc=size=96x64:rate=5", "-t", "5"]
    cmd += ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "5"]
    cmd += ["-movflags", "+faststart"] if faststart else []
    subprocess.run([*cmd, str(out)], check=True, timeout=60)
    return out


def _frame_hashes(path: Path) -> list[str]:
    ffmpeg = need_tool("ffmpeg")
    res = subprocess.run(
        [ffmpeg, "-v", "error", "-i", str(path), "-map", "0:v", "-f", "framemd5", "-"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return [line.rsplit(",", 1)[-1].strip() for line in res.stdout.splitlines() if not line.startswith("#")]


@pytest.mark.parametrize("faststart", [False, True])
def test_written_clip_reads_back_and_still_plays(tmp_path: Path, faststart: bool) -> None:
    src = _clip(tmp_path, faststart=faststart)
    dst = tmp_path / "gps.mp4"

    assert write_gps(src, dst, ROUTE) == 5

    check_complete(dst)
    assert _frame_hashes(dst) == _frame_hashes(src)  # chunk offsets still right, video intact
    track = read_track(dst)
    assert track.source == "gps-index" and track.blocks == 5
    assert [p.t for p in track.points] == [0, 1, 3, 4]
    for got, want in zip(track.points, ROUTE, strict=True):
        assert got.time_utc == want.time_utc
        assert got.lat == pytest.approx(want.lat, abs=2e-5)  # float32 DDMM.MMMM: ~1 m
        assert got.lon == pytest.approx(want.lon, abs=2e-5)
        assert got.speed_kmh == pytest.approx(want.speed_kmh, abs=1e-3)
        assert got.heading == pytest.approx(want.heading, abs=1e-3)
    assert track.at(2) is not None  # a one-second gap is interpolated


def test_rewriting_replaces_the_index(tmp_path: Path) -> None:
    src = _clip(tmp_path, faststart=True)
    once, twice = tmp_path / "once.mp4", tmp_path / "twice.mp4"
    write_gps(src, once, ROUTE)
    write_gps(once, twice, ROUTE[:2])
    assert _frame_hashes(twice) == _frame_hashes(src)
    assert [p.t for p in read_track(twice).points] == [0, 1]


def _exiftool_points(path: Path) -> list[dict[str, float | str]]:
    exiftool = need_tool("exiftool")
    res = subprocess.run(
        [
            exiftool,
            "-ee",
            "-n",
            "-j",
            "-G3",
            "-GPSDateTime",
            "-GPSLatitude",
            "-GPSLongitude",
            "-GPSSpeed",
            "-GPSTrack",
            str(path),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    doc = json.loads(res.stdout)[0]
    docs: dict[str, dict[str, float | str]] = {}
    for key, value in doc.items():
        if key.startswith("Doc") and ":" in key:
            group, tag = key.split(":", 1)
            docs.setdefault(group, {})[tag] = value
    return [docs[k] for k in sorted(docs, key=lambda g: int(g[3:]))]


@pytest.mark.parametrize("faststart", [False, True])
def test_exiftool_reads_what_we_read(tmp_path: Path, faststart: bool) -> None:
    dst = tmp_path / "gps.mp4"
    write_gps(_clip(tmp_path, faststart=faststart), dst, ROUTE)
    ours = read_track(dst).points
    theirs = _exiftool_points(dst)
    assert len(theirs) == len(ours) == 4
    for o, e in zip(ours, theirs, strict=True):
        assert o.time_utc is not None
        assert e["GPSDateTime"] == o.time_utc.strftime("%Y:%m:%d %H:%M:%SZ")
        assert float(e["GPSLatitude"]) == pytest.approx(o.lat, abs=1e-9)
        assert float(e["GPSLongitude"]) == pytest.approx(o.lon, abs=1e-9)
        assert float(e["GPSSpeed"]) == pytest.approx(o.speed_kmh, abs=1e-6)
        assert float(e["GPSTrack"]) == pytest.approx(o.heading, abs=1e-6)


def test_sparse_clip_is_sparse_and_readable(tmp_path: Path) -> None:
    path = tmp_path / "sparse.mp4"
    fixes = [Fix(i, T0 + timedelta(seconds=i), 48.0 + i * 1e-4, 11.0, 50.0, 0.0) for i in range(60)]
    size = write_sparse_clip(path, fixes, mdat_bytes=512 << 20)
    assert size > 512 << 20
    assert path.stat().st_blocks * 512 < 16 << 20  # the holes take no disk
    track = read_track(path)
    assert len(track.points) == 60 and track.points[-1].lat == pytest.approx(48.0059, abs=2e-5)
