"""The route generator and the plate texts and images."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from itertools import pairwise

import numpy as np
import pytest

from dashcam.gps.track import distance_m
from dashcam.synth import make_route, random_plates, render_plate, spec_for
from dashcam.synth.plates import UK_RE, US_RE, normalize, style_for
from dashcam.synth.route import quantize_fix


def test_route_has_one_whole_second_fix_per_second_and_is_deterministic() -> None:
    start = datetime(2023, 8, 15, 10, 34, 56, 700_000, tzinfo=timezone.utc)
    route = make_route(90.5, seed=3, start_utc=start)
    assert [f.t for f in route.fixes] == list(range(91))
    assert route.fixes[0].time_utc == start.replace(microsecond=0)
    assert all(b.time_utc - a.time_utc == timedelta(seconds=1) for a, b in pairwise(route.fixes))
    again = make_route(90.5, seed=3, start_utc=start)
    assert again.fixes == route.fixes
    assert make_route(90.5, seed=4, start_utc=start).fixes != route.fixes


def test_route_is_a_plausible_drive() -> None:
    route = make_route(300, seed=1)
    speeds = np.array([f.speed_kmh for f in route.fixes])
    assert speeds.max() <= 75 and speeds.min() >= 0
    assert (speeds < 0.5).any(), "a five-minute drive stops somewhere"
    assert np.abs(np.diff(route.speed)).max() / 0.1 <= 3.0  # m/s^2: no teleporting speed changes
    for a, b in pairwise(route.fixes):
        step = distance_m(a.lat, a.lon, b.lat, b.lon)
        assert step <= max(a.speed_kmh, b.speed_kmh) / 3.6 + 1.0  # moved as fast as it said
    headings = {round(f.heading / 45) for f in route.fixes}
    assert len(headings) > 1, "the route turns"
    lat, lon = route.position(10.5)
    assert distance_m(lat, lon, route.fixes[10].lat, route.fixes[10].lon) < 20


def test_fixes_are_rounded_to_what_the_block_holds() -> None:
    route = make_route(5, seed=0, start_lat=-33.8688, start_lon=151.2093)
    for f in route.fixes:
        assert quantize_fix(f) == f  # idempotent: already what a reader gets back
        assert f.lat < 0 < f.lon


def test_random_plates_look_valid_and_never_repeat() -> None:
    plates = random_plates(400, random.Random(1))
    assert len(set(plates)) == 400
    assert all(UK_RE.match(p) or US_RE.match(p) for p in plates)
    assert {style_for(p) for p in plates} == {"uk", "us"}


@pytest.mark.parametrize(
    ("raw", "norm", "style", "aspect"),
    [
        ("ab12 cde", "AB12CDE", "uk", 4.7),
        ("7abc-123", "7ABC123", "us", 2.0),
        ("B MW 1234", "BMW1234", "eu", 4.7),
    ],
)
def test_plate_images_have_plate_proportions(raw: str, norm: str, style: str, aspect: float) -> None:
    spec = spec_for(normalize(raw))
    assert (spec.text, spec.style) == (norm, style)
    img = render_plate(spec, 100)
    assert img.shape[0] == 100 and img.shape[1] / 100 == pytest.approx(aspect, abs=0.05)
    grey = img.mean(axis=2)
    assert np.median(grey) > 150, "a light background"
    assert (grey < 80).mean() > 0.08, "with dark characters"


@pytest.mark.parametrize("bad", ["", "A", "AB-12-CDE-FGHIJ", "ÄB12", "AB 1/2"])
def test_bad_plate_texts_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        normalize(bad)
