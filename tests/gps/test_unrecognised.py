"""Never a wrong position: unknown and encrypted layouts are reported, implausible values are not written.

The command is run the way a user types it: `.venv/bin/dashcam gps FILE` in a subprocess, on a fresh data
directory, without PREFECT_HOME.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from dashcam.gps import NO_FIX, Fix, read_track
from dashcam.gps.writer import encode_block
from tests.gps import dumps as d

T0 = datetime(2024, 5, 1, 12, tzinfo=timezone.utc)
DASHCAM = Path(sys.executable).with_name("dashcam")
NOT_RECOGNISED = "GPS layout not recognised (block header "
FIRST_BLOCK_AT = 36  # ftyp (28 bytes) + the mdat header


def _novatek(t: int, lat: float, lon: float, kmh: float = 50.0) -> bytes:
    return encode_block(Fix(t, T0 + timedelta(seconds=t), lat, lon, kmh, 90.0), size=256)


def _run(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_HOME"}
    env["DASHCAM_DATA_DIR"] = str(tmp_path / "data")
    return subprocess.run(
        [str(DASHCAM), "gps", *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def test_unknown_layout_is_reported_never_no_fix(tmp_path: Path) -> None:
    block = d.unknown_block()
    path = d.clip(tmp_path / "unknown.mp4", [block, block, block])

    track = read_track(path)

    assert track.points == [] and track.reason != NO_FIX
    head = " ".join(block[:32].hex()[i : i + 8] for i in range(0, 64, 8))
    assert track.reason == f"GPS layout not recognised (block header {head}, offset {FIRST_BLOCK_AT})"
    assert track.unrecognised_blocks == 3


def test_cli_says_not_recognised_in_one_line(tmp_path: Path) -> None:
    path = d.clip(tmp_path / "unknown-cam.mp4", [d.unknown_block()])

    result = _run(str(path), "--format", "csv", tmp_path=tmp_path)

    assert result.returncode == 0, result.stderr
    lines = result.stderr.strip().splitlines()
    # one line: the file, then the reason (after the CLI's "warning: " label)
    assert len(lines) == 1 and f"{path}: {NOT_RECOGNISED}00008000 66726565 47505320" in lines[0]
    assert lines[0].endswith(f"offset {FIRST_BLOCK_AT})")
    assert result.stdout.strip() == "t,time_utc,lat,lon,speed_kmh,heading"  # no point written


def test_cli_json_names_the_layout(tmp_path: Path) -> None:
    path = d.clip(tmp_path / "xgody.mp4", [d.pad(d.XGODY)])

    result = _run(str(path), "--json", tmp_path=tmp_path)

    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["layout"] == "xgody-text" and doc["source"] == "gps-index"
    assert [(p["lat"], p["lon"]) for p in doc["points"]] == [(42.38247, -83.38957)]
    assert doc["unrecognised_blocks"] == 0


@pytest.mark.parametrize(
    ("name", "block", "why"),
    [
        # ExifTool type 8: it prints the raw doubles (13759.1 N) with a warning that they are wrong
        ("akaso-v1", d.pad(d.AKASO_V1), "encrypted coordinates (Akaso V1 / Redtiger F7N)"),
        # ExifTool type 9 (136 bytes: too short for the type 7 reading of the same text)
        ("eachpai", d.EACHPAI[:136], "encrypted GPS text (EACHPAI)"),
        # E-ACE with base64 lat/lon that no known key decrypts
        (
            "e-ace-unknown-key",
            d.pad(d.E_ACE[:0x2C] + b"QUJDREVGR0hJSktM" + bytes(4) + d.E_ACE[0x40:]),
            "unknown key",
        ),
    ],
)
def test_encrypted_layouts_give_no_position(tmp_path: Path, name: str, block: bytes, why: str) -> None:
    track = read_track(d.clip(tmp_path / f"{name}.mp4", [block]))

    assert track.points == []
    assert track.reason is not None and track.reason.startswith(NOT_RECOGNISED) and why in track.reason


def test_positions_off_the_globe_make_the_layout_unrecognised(tmp_path: Path) -> None:
    blocks = [_novatek(i, 95.5, 11.0 + i * 1e-4) for i in range(3)]  # DDMM 9530: 95.5 degrees north

    track = read_track(d.clip(tmp_path / "off.mp4", blocks))

    assert track.points == []
    assert track.reason is not None and track.reason.startswith(NOT_RECOGNISED + "00000100 66726565")
    assert "layout novatek: 3 positions off the globe" in track.reason


def test_impossible_jumps_make_the_layout_unrecognised(tmp_path: Path) -> None:
    # every second 5 to 20 degrees away from the last: values of some other layout, not a drive
    hops = [(48.0, 11.0), (53.0, 2.0), (40.0, 20.0), (58.0, -3.0), (45.0, 25.0)]
    blocks = [_novatek(i, lat, lon) for i, (lat, lon) in enumerate(hops)]

    track = read_track(d.clip(tmp_path / "jumps.mp4", blocks))

    assert track.points == []
    assert track.reason is not None and "layout novatek: positions jump impossibly" in track.reason


def test_speed_of_400_kmh_is_not_a_car(tmp_path: Path) -> None:
    step = 10 / 111_195  # 36 km/h north
    blocks = [_novatek(i, 48.0 + i * step, 11.0, kmh=463.0 if i == 2 else 36.0) for i in range(4)]

    track = read_track(d.clip(tmp_path / "fast.mp4", blocks))

    assert [p.t for p in track.points] == [0, 1, 3]
    assert track.reason is None


def test_one_unknown_block_among_good_ones_is_counted(tmp_path: Path) -> None:
    step = 10 / 111_195
    blocks = [_novatek(0, 48.0, 11.0), d.unknown_block(), _novatek(2, 48.0 + 2 * step, 11.0)]

    track = read_track(d.clip(tmp_path / "mixed.mp4", blocks))

    assert [p.t for p in track.points] == [0, 2]
    assert track.reason is None and track.unrecognised_blocks == 1
    assert track.unrecognised[0].startswith(NOT_RECOGNISED) and "offset 292" in track.unrecognised[0]


def test_no_fix_blocks_of_known_layouts_mean_no_fix(tmp_path: Path) -> None:
    akaso_v = bytearray(d.pad(d.AKASO))
    akaso_v[60] = ord("V")
    nextbase_v = bytearray(d.pad(d.NEXTBASE_512G))
    nextbase_v[0x36:0x38] = b"\0\0"  # the first record's year: no date yet
    for name, block in (("akaso", akaso_v), ("nextbase", nextbase_v)):
        track = read_track(d.clip(tmp_path / f"{name}-v.mp4", [bytes(block)]))
        assert track.points == [] and track.reason == NO_FIX, name


def test_cli_names_skipped_blocks_beside_a_track(tmp_path: Path) -> None:
    path = d.clip(tmp_path / "mixed.mp4", [_novatek(0, 48.0, 11.0), d.unknown_block()])

    result = _run(str(path), "--format", "csv", tmp_path=tmp_path)

    assert result.returncode == 0
    assert len(result.stdout.strip().splitlines()) == 2  # header + the one fix
    assert f"{path}: 1 GPS blocks skipped, first: {NOT_RECOGNISED}" in result.stderr
