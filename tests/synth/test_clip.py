"""A synthesised clip: plays at the right size and rate, carries its route, and its truth is consistent."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import av
import numpy as np
import pytest

from dashcam.camera.names import parse_clip_name
from dashcam.gps import read_track
from dashcam.synth import SynthResult, synthesize
from tests.synth.conftest import FPS, PLATES, SECONDS, SIZE


def _frames(path: Path, wanted: set[int]) -> dict[int, np.ndarray]:
    out = {}
    with av.open(str(path)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i in wanted:
                out[i] = f.to_ndarray(format="bgr24")
    return out


def test_clip_decodes_at_the_requested_size_rate_and_length(clip: SynthResult) -> None:
    with av.open(str(clip.path)) as c:
        stream = c.streams.video[0]
        assert (stream.width, stream.height) == SIZE
        assert float(stream.average_rate) == pytest.approx(FPS)
        n = sum(1 for _ in c.decode(video=0))
    assert n == round(SECONDS * FPS)
    assert not list(clip.path.parent.glob(".*")), "no temporary files left behind"


def test_viofo_name_says_the_camera_local_start(clip: SynthResult) -> None:
    name = parse_clip_name(clip.path.name)
    assert name.matched and name.style == "standard" and name.channel == "F" and name.sequence == 120
    truth = clip.truth
    assert name.recorded_local == datetime.fromisoformat(truth["start_local"])
    start_utc = datetime.fromisoformat(truth["start_utc"].replace("Z", "+00:00"))
    assert name.recorded_local - start_utc.replace(tzinfo=None) == timedelta(hours=2)
    assert truth["utc_offset_s"] == 7200


def test_gps_read_back_equals_the_route(clip: SynthResult) -> None:
    track = read_track(clip.path)
    assert track.source == "gps-index"
    assert len(track.points) == len(clip.route.fixes) == SECONDS
    for got, want in zip(track.points, clip.route.fixes, strict=True):
        assert got.t == want.t
        assert got.time_utc == want.time_utc
        assert got.lat == pytest.approx(want.lat, abs=1e-6)
        assert got.lon == pytest.approx(want.lon, abs=1e-6)
        assert got.speed_kmh == pytest.approx(want.speed_kmh, abs=1e-3)
        assert got.heading == pytest.approx(want.heading, abs=1e-3)
    assert track.start_utc == datetime.fromisoformat(clip.truth["start_utc"].replace("Z", "+00:00"))


def test_truth_is_consistent(clip: SynthResult) -> None:
    truth = json.loads(clip.truth_path.read_text())
    assert clip.truth_path.name == clip.path.name + ".truth.json"
    assert truth["file"] == clip.path.name and truth["size"] == list(SIZE) and truth["fps"] == FPS
    texts = [p["text"] for p in truth["plates"]]
    assert len(texts) == len(set(texts)), "plates never repeat within a clip"
    assert texts == clip.plates
    by_text = {p["text"]: p for p in truth["plates"]}
    for given in PLATES:
        assert by_text[given]["ever_legible"], f"{given} is legible at some point"
    assert any(not p["ever_legible"] for p in truth["plates"]), "distant traffic carries unreadable plates"
    for p in truth["plates"]:
        for t0, t1 in p["legible"]:
            assert 0 <= t0 < t1 <= SECONDS
        for s in p["samples"]:
            x1, y1, x2, y2 = s["box"]
            assert 0 <= x1 < x2 <= SIZE[0] and 0 <= y1 < y2 <= SIZE[1]
            assert s["height_px"] >= truth["min_plate_px"]
            assert any(t0 <= s["t"] < t1 for t0, t1 in p["legible"])
        if p["ever_legible"]:
            assert p["legible_s"] >= 1.0, "a readable plate stays readable for a while"
    for v in truth["vehicles"]:
        assert v["plate"] in by_text
        for t0, t1 in v["in_view"]:
            assert 0 <= t0 < t1 <= SECONDS
    assert len(truth["route"]) == SECONDS
    assert [r["t"] for r in truth["route"]] == [f.t for f in clip.route.fixes]


def test_same_seed_gives_the_same_clip(tmp_path: Path) -> None:
    kwargs = dict(seconds=3.0, fps=10.0, size=(640, 360), seed=11, plates=["AB12CDE"])
    a = synthesize(tmp_path / "a.mp4", **kwargs)  # type: ignore[arg-type]
    b = synthesize(tmp_path / "b.mp4", **kwargs)  # type: ignore[arg-type]
    ta, tb = dict(a.truth), dict(b.truth)
    assert ta.pop("file") == "a.mp4" and tb.pop("file") == "b.mp4"
    assert ta == tb
    fa, fb = _frames(a.path, {0, 15, 29}), _frames(b.path, {0, 15, 29})
    assert len(fa) == 3
    for i in fa:
        assert np.array_equal(fa[i], fb[i])
    c = synthesize(tmp_path / "c.mp4", **{**kwargs, "seed": 12})  # type: ignore[arg-type]
    assert c.truth["route"] != ta["route"]


def test_too_many_plates_for_the_clip_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="do not fit"):
        synthesize(
            tmp_path / "x.mp4", seconds=3, fps=5, size=(640, 360), plates=["AB12CDE", "XY34ZZZ", "7ABC123"]
        )
    assert not (tmp_path / "x.mp4").exists() and not list(tmp_path.iterdir())


@pytest.mark.parametrize("plates", [["AB12CDE", "ab12 cde"], ["A"]])
def test_bad_plate_lists_are_refused(tmp_path: Path, plates: list[str]) -> None:
    with pytest.raises(ValueError):
        synthesize(tmp_path / "x.mp4", seconds=2, size=(640, 360), plates=plates)


def test_naive_start_time_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="timezone"):
        synthesize(tmp_path / "x.mp4", seconds=2, size=(640, 360), start_utc=datetime(2024, 1, 1))
