"""Joining the tracks of one vehicle: motion, colour and plate must agree; two plates never join."""

from __future__ import annotations

import numpy as np
import pytest

from dashcam.stages.heavy.track_join import Tracklet, chains, join_cost
from dashcam.vision.reid import distance, signature
from tests.support import testdata_file


@pytest.fixture(scope="module")
def looks() -> dict[str, list[float]]:
    """Colour signatures of real cars: the red SUV and the grey saloon of the lanes clip at 6 s, each
    from two frames a second apart (the same car seen again)."""
    from dashcam.video.decode import iter_frames

    frames = {
        round(f.t): f.image for f in iter_frames(testdata_file("video/lanes/solidWhiteRight.mp4"), fps=1)
    }
    boxes = {  # (t, box) in the 960x540 frame, where the vehicle detector puts them
        "red": [(6, (226, 303, 279, 341)), (7, (251, 303, 293, 333))],
        "grey": [(6, (80, 299, 210, 368)), (7, (134, 299, 241, 360))],
    }
    out = {}
    for name, seen in boxes.items():
        for k, (t, box) in enumerate(seen):
            sig = signature(frames[t], box)
            assert sig is not None
            out[f"{name}{k}"] = [float(v) for v in sig]
    return out


def _boxes(
    t0: float, t1: float, x0: float, vx: float, h0: float = 80.0, vh: float = 0.0
) -> list[list[float]]:
    out = []
    for t in np.arange(t0, t1 + 1e-6, 0.1):
        x, h = x0 + vx * (t - t0), h0 + vh * (t - t0)
        out.append([round(float(t), 2), x, 300.0, x + 1.3 * h, 300.0 + h])
    return out


def test_the_same_car_looks_alike_and_two_cars_do_not(looks: dict[str, list[float]]) -> None:
    assert distance(looks["red0"], looks["red1"]) < 0.3
    assert distance(looks["grey0"], looks["grey1"]) < 0.3
    assert distance(looks["red0"], looks["grey1"]) > 0.45


def test_a_car_lost_for_three_seconds_is_one_vehicle(looks: dict[str, list[float]]) -> None:
    a = Tracklet(_boxes(0, 4, 100, 40), "car", looks["red0"])
    b = Tracklet(_boxes(7, 10, 100 + 40 * 7, 40), "truck", looks["red1"])  # the detector's label flips
    assert chains([a, b]) == [[0, 1]]


def test_a_car_of_another_colour_where_it_would_be_is_another_car(looks: dict[str, list[float]]) -> None:
    a = Tracklet(_boxes(0, 4, 100, 40), "car", looks["red0"])
    b = Tracklet(_boxes(7, 10, 100 + 40 * 7, 40), "car", looks["grey1"])
    assert chains([a, b]) == [[0], [1]]


def test_two_different_plates_are_never_joined(looks: dict[str, list[float]]) -> None:
    a = Tracklet(_boxes(0, 4, 100, 40), "car", looks["red0"], plate="AB12CDE")
    b = Tracklet(_boxes(4.5, 8, 100 + 40 * 4.5, 40), "car", looks["red1"], plate="XY34ZZZ")
    assert join_cost(a, b) is None
    # one misread character is the same plate (and a read plate makes the join cheaper)
    c = Tracklet(b.boxes, "car", looks["red1"], plate="AB12C0E")
    plain = Tracklet(b.boxes, "car", looks["red1"])
    cost, plain_cost = join_cost(a, c), join_cost(a, plain)
    assert cost is not None and plain_cost is not None and cost < plain_cost


def test_a_car_found_somewhere_else_is_another_car(looks: dict[str, list[float]]) -> None:
    a = Tracklet(_boxes(0, 4, 100, 40), "car", looks["red0"])
    jumped = Tracklet(_boxes(5, 8, 900, -10), "car", looks["red1"])  # 600 px from where it was heading
    grown = Tracklet(_boxes(5, 8, 100 + 40 * 5, 40, h0=240), "car", looks["red1"])  # three times the size
    assert chains([a, jumped]) == [[0], [1]]
    assert chains([a, grown]) == [[0], [1]]


def test_cars_seen_together_are_two_and_a_scene_cut_parts_them(looks: dict[str, list[float]]) -> None:
    a = Tracklet(_boxes(0, 4, 100, 40), "car", looks["red0"])
    beside = Tracklet(_boxes(2, 6, 180, 40), "car", looks["red1"])  # in the same frames for two seconds
    assert chains([a, beside]) == [[0], [1]]
    later = Tracklet(_boxes(5, 8, 100 + 40 * 5, 40), "car", looks["red1"])
    assert chains([a, later], barrier=lambda i, j: True) == [[0], [1]]
    assert chains([a, later]) == [[0, 1]]


def test_a_car_waiting_at_the_lights_is_found_where_it_was_left(looks: dict[str, list[float]]) -> None:
    """A wait of 15 s (no window: nothing moved) joins only where the car was left, as it was."""
    a = Tracklet(_boxes(0, 3, 400, 0, h0=150), "car", looks["red0"])
    still = Tracklet(_boxes(18, 21, 405, 0, h0=155), "car", looks["red1"])
    moved = Tracklet(_boxes(18, 21, 600, 0, h0=150), "car", looks["red1"])
    assert chains([a, still]) == [[0, 1]]
    assert chains([a, moved]) == [[0], [1]]


def _sighting(track_id: int, rows: list[list[float]]) -> object:
    from dashcam.stages.heavy.analysis import SightingOut

    return SightingOut(track_id, "car", 0.6, rows[0][0], rows[-1][0], rows[0][0], rows[0][1:5], rows)


def test_a_second_box_on_one_vehicle_is_folded_into_it_and_a_neighbour_is_not() -> None:
    """The detector's box on the left half of a van went to a second track for a second, and the van's
    own track lost those frames: the second track is the van's double all the same. A car beside the van
    (their boxes barely touching) stays a vehicle of its own."""
    from dashcam.stages.heavy.sighting_join import fold_duplicates

    times = [round(10 + 0.1 * k, 1) for k in range(30)]
    van = [[t, 860.0, 260.0, 1060.0, 460.0, 0.6] for t in times if not 11.0 < t < 11.9]
    half = [[t, 860.0, 262.0, 955.0, 458.0, 0.4] for t in (10.9, 11.3, 11.4, 11.8)]
    beside = [[t, 1050.0, 280.0, 1200.0, 430.0, 0.5] for t in (10.9, 11.3, 11.4, 11.8)]
    kept = fold_duplicates([_sighting(1, van), _sighting(2, half)])  # type: ignore[list-item]
    assert len(kept) == 1 and kept[0].merged_from == 2
    assert len(fold_duplicates([_sighting(1, van), _sighting(3, beside)])) == 2  # type: ignore[list-item]
