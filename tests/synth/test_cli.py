"""`dashcam synth` through the real command line app."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from dashcam.camera.names import parse_clip_name
from dashcam.cli import app

runner = CliRunner()


def test_synth_json_with_viofo_name_in_a_directory(tmp_path: Path) -> None:
    out = tmp_path / "raw"
    args = ["synth", str(out), "--viofo-name", "--seconds", "4", "--fps", "10", "--size", "640x360"]
    args += [
        "--plates",
        "AB12CDE",
        "--seed",
        "5",
        "--start",
        "2023-08-15T10:34:56Z",
        "--utc-offset",
        "2",
        "--json",
    ]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    path = Path(doc["path"])
    assert path.parent == out and path.is_file()
    assert path.name == "2023_0815_123456_000001F.MP4"
    assert parse_clip_name(path.name).matched
    assert Path(doc["truth_path"]).is_file()
    assert "AB12CDE" in doc["legible_plates"] and doc["frames"] == 40 and doc["fixes"] == 4


def test_synth_plain_prints_the_path(tmp_path: Path) -> None:
    out = tmp_path / "clip.mp4"
    res = runner.invoke(app, ["synth", str(out), "--seconds", "2", "--fps", "5", "--size", "320x180"])
    assert res.exit_code == 0, res.output
    assert res.stdout.strip().splitlines()[-1] == str(out)
    assert out.is_file() and Path(f"{out}.truth.json").is_file()


def test_synth_errors_are_one_line(tmp_path: Path) -> None:
    res = runner.invoke(app, ["synth", str(tmp_path / "x.mp4"), "--size", "big"])
    assert res.exit_code == 1 and "WIDTHxHEIGHT" in res.output
    res = runner.invoke(app, ["synth", str(tmp_path / "x.mp4"), "--images", str(tmp_path / "nope")])
    assert res.exit_code == 1 and "not a directory" in res.output
    res = runner.invoke(
        app, ["synth", str(tmp_path / "x.mp4"), "--seconds", "2", "--plates", "AB12CDE,AB12CDE"]
    )
    assert res.exit_code == 1 and "repeat" in res.output
