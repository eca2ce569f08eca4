"""Ingest keeps the GPS verdict: a clip whose GPS is in no known layout is registered with a warning."""

from __future__ import annotations

from pathlib import Path

from dashcam.stages.context import StageContext
from dashcam.stages.ingest.record import register_file
from tests.gps import dumps as d


def test_unrecognised_gps_is_a_warning_not_a_silent_empty_track(pipeline_env: Path, tmp_path: Path) -> None:
    ctx = StageContext.load()
    known = d.clip(tmp_path / "2024_0501_120000_001.MP4", [d.pad(d.XGODY)])
    unknown = d.clip(tmp_path / "2024_0501_120100_002.MP4", [d.unknown_block()])

    ok = register_file(known, ctx)
    bad = register_file(unknown, ctx)

    assert ok.gps_points == 1 and not any("GPS" in w for w in ok.warnings)
    assert bad.gps_points == 0
    assert [w for w in bad.warnings if "GPS" in w] == [f"{unknown.name}: " + read_reason(unknown)]


def read_reason(path: Path) -> str:
    from dashcam.gps import read_track

    reason = read_track(path).reason
    assert reason is not None and reason.startswith("GPS layout not recognised (block header 00008000")
    return reason
