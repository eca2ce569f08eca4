"""The main job on one machine, end to end: synthesised drives with known plates and route -> `dashcam run`
-> `dashcam search` finds each plate at the right time and place; nothing is invented; a rerun changes
nothing; a corrupt clip in the batch fails alone."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from dashcam.cli import app
from dashcam.db.models import Media, PlateRead, Sighting, StageRun
from dashcam.db.session import session_scope
from dashcam.gps.track import distance_m
from dashcam.stages.context import StageContext
from dashcam.synth import synthesize
from tests.support import testdata_file

pytestmark = pytest.mark.slow
runner = CliRunner()
MIN_LEGIBLE_S = 1.5  # a plate legible for a blink is not a plate anyone can read


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _route_at(route: list[dict[str, Any]], t: float) -> tuple[float, float]:
    """Where the camera was at ``t`` (the truth route has one fix per second)."""
    before = max((f for f in route if f["t"] <= t), key=lambda f: f["t"])
    after = min((f for f in route if f["t"] >= t), key=lambda f: f["t"], default=before)
    k = 0.0 if after["t"] == before["t"] else (t - before["t"]) / (after["t"] - before["t"])
    return before["lat"] + (after["lat"] - before["lat"]) * k, before["lon"] + (
        after["lon"] - before["lon"]
    ) * k


def _search(plate: str, *extra: str) -> list[dict[str, Any]]:
    res = runner.invoke(app, ["search", "--plate", plate, "--json", *extra])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)["hits"]


def _state(ctx: StageContext) -> tuple[Any, ...]:
    with session_scope(ctx.engine) as s:
        counts = tuple(
            s.execute(select(func.count()).select_from(m)).scalar_one() for m in (Sighting, PlateRead, Media)
        )
        runs = sorted(
            (r.clip_id, r.stage, r.status, r.attempts) for r in s.execute(select(StageRun)).scalars()
        )
    media = {
        area: sorted((k, ctx.storage[area].sha256(k)) for k in ctx.storage[area].keys())  # noqa: SIM118
        for area in ("heavy_output", "archive")
    }
    return counts, runs, media


def test_run_finds_every_visible_plate_at_the_right_time_and_place(
    pipeline_env: Path, prefect_harness: None, tmp_path: Path
) -> None:
    footage = tmp_path / "footage"
    footage.mkdir()
    start = datetime.fromisoformat("2024-05-18T09:30:00+00:00")
    made = [
        synthesize(
            footage,
            seconds=14,
            fps=15,
            size=(1280, 720),
            plates=["AB12CDE"],
            seed=3,
            viofo_name=True,
            sequence=1,
            start_utc=start,
        ),
        synthesize(
            footage,
            seconds=14,
            fps=15,
            size=(1280, 720),
            seed=5,
            viofo_name=True,
            sequence=2,
            start_utc=start + timedelta(seconds=14),
        ),
    ]
    # a clip whose picture data is damaged in the middle of the batch
    data = bytearray(testdata_file("video/lanes/solidWhiteRight.mp4").read_bytes())
    mdat = data.find(b"mdat")
    data[mdat + 8 : len(data) - 40000] = bytes(len(data) - 40000 - mdat - 8)
    (footage / "2024_0518_093100_000003F.MP4").write_bytes(bytes(data))
    for p in footage.glob("*.truth.json"):
        shutil.move(p, tmp_path / p.name)  # keep the truth out of the folder being imported

    res = runner.invoke(app, ["run", str(footage), "--json"])
    assert res.exit_code == 1, res.output  # the damaged clip fails...
    assert res.stdout.strip(), f"no JSON on stdout: {res.exception!r} {res.stderr[-2000:]}"
    summary = json.loads(res.stdout)
    assert summary["clips"] == 3
    (failure,) = summary["failures"]
    assert failure["clip"] == "2024_0518_093100_000003F.MP4" and "decode error" in failure["error"]
    assert summary["processed"] == 2  # ...and every other clip went through every stage

    visible, never = [], []
    for m in made:
        truth = json.loads(
            m.truth_path.read_text() if m.truth_path.exists() else (tmp_path / m.truth_path.name).read_text()
        )
        route = truth["route"]
        for p in truth["plates"]:
            (visible if p["legible_s"] >= MIN_LEGIBLE_S else never if not p["ever_legible"] else []).append(
                (p, truth, route)
            )
    assert visible, "the synthetic drives show plates"
    for p, truth, route in visible:
        hits = _search(p["text"])
        assert hits, f"plate {p['text']} (legible {p['legible']}) was not found"
        t0 = _utc(truth["start_utc"])
        windows = [
            (t0 + timedelta(seconds=a - 1.0), t0 + timedelta(seconds=b + 1.0)) for a, b in p["legible"]
        ]
        hit = hits[0]
        when = _utc(hit["time_utc"])
        assert any(a <= when <= b for a, b in windows), f"{p['text']} seen at {when}, legible {p['legible']}"
        lat, lon = _route_at(route, (when - t0).total_seconds())
        assert distance_m(hit["lat"], hit["lon"], lat, lon) < 15.0, f"{p['text']} placed off the route"
    for p, _, _ in never:
        assert _search(p["text"]) == [], f"plate {p['text']} was never legible but was 'read'"

    # running it again over the same folder does no work and changes nothing
    ctx = StageContext.load()
    before = _state(ctx)
    again = runner.invoke(app, ["run", str(footage), "--json"])
    assert again.exit_code == 1
    assert _state(ctx) == before
