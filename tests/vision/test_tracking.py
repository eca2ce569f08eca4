"""The tracker: Kalman boxes that keep their shape while unseen, weak boxes that carry a track but never
make one, and the lane crop that shows the detector distant cars at twice the detail."""

from __future__ import annotations

import numpy as np
import pytest

from dashcam.vision import lanecrop
from dashcam.vision.tracking import BoxFilter, ByteTracker
from dashcam.vision.types import Detection


def _det(box: tuple[float, float, float, float], score: float, label: str = "car") -> Detection:
    return Detection(*box, score, label, 2)


def test_an_unseen_receding_box_keeps_its_shape_and_stops() -> None:
    """A car pulling away shrinks each frame; unseen, its box keeps its aspect, and after the coasting
    frames it stays put instead of shrinking to nothing (the old edge-by-edge extrapolation made a
    4 px box that no longer overlapped the car when it was found again)."""
    kf = BoxFilter((500, 300, 700, 450))
    for i in range(1, 10):  # 10 % smaller each frame, moving up
        s = 0.9**i
        cx, cy, w, h = 600, 375 - 5 * i, 200 * s, 150 * s
        kf.predict()
        kf.update((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2))
    seen = kf.box
    for k in range(30):
        kf.predict(unseen=k >= 1, coast=k >= 5)
    x1, y1, x2, y2 = kf.box
    w0, h0 = seen[2] - seen[0], seen[3] - seen[1]
    assert (x2 - x1) / (y2 - y1) == pytest.approx(w0 / h0, rel=0.05)
    assert y2 - y1 >= 0.4 * h0, (seen, kf.box)


def test_the_box_filter_is_the_eight_state_kalman_filter() -> None:
    """Four (value, speed) filters give the numbers of the textbook 8-state filter they replace, step by
    step, through seen, unseen and coasting frames (a receding, drifting car)."""
    from dashcam.vision import tracking as t

    f_ = np.eye(8) + np.eye(8, k=4)
    h_ = np.eye(4, 8)
    first = (500.0, 300.0, 700.0, 450.0)
    m = t.to_xyah(first)
    x = np.concatenate([m, np.zeros(4)])
    p = np.diag(
        np.square(
            [2 * t.POS_NOISE * m[3]] * 2
            + [1e-2, 2 * t.POS_NOISE * m[3]]
            + [10 * t.VEL_NOISE * m[3]] * 2
            + [1e-5, 10 * t.VEL_NOISE * m[3]]
        )
    )
    kf = BoxFilter(first)
    for i in range(1, 40):
        seen, unseen, coast = i < 15 or i > 30, 15 < i <= 30, 20 < i <= 30
        if coast:
            x[4:] = 0.0
        elif unseen:
            x[6:] *= 0.5
        hh = max(x[3], 1.0)
        q = (
            [t.POS_NOISE * hh] * 2
            + [1e-2, t.POS_NOISE * hh]
            + [t.VEL_NOISE * hh] * 2
            + [1e-5, t.VEL_NOISE * hh]
        )
        x = f_ @ x
        x[2], x[3] = min(max(x[2], 0.1), 10.0), max(x[3], 2.0)
        p = f_ @ p @ f_.T + np.diag(np.square(q))
        kf.predict(unseen=unseen, coast=coast)
        if seen:
            s = 0.97**i
            cx, cy, w, h = 600 + 3 * i, 375 - 2 * i, 200 * s, 150 * s * (1 + 0.01 * (i % 3))
            z = t.to_xyah((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2))
            hh = max(x[3], 1.0)
            r = np.diag(np.square([t.POS_NOISE * hh, t.POS_NOISE * hh, 1e-1, t.POS_NOISE * hh]))
            k = np.linalg.solve(h_ @ p @ h_.T + r, h_ @ p).T
            x = x + k @ (z - h_ @ x)
            p = (np.eye(8) - k @ h_) @ p
            kf.update((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2))
        np.testing.assert_allclose(kf.x, x, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(kf.pp, np.diag(p)[:4], rtol=1e-9)
        np.testing.assert_allclose(kf.pv, np.diag(p, k=4), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(kf.vv, np.diag(p)[4:], rtol=1e-9)
        assert (
            np.count_nonzero(
                p - np.diag(np.diag(p)) - np.diag(np.diag(p, 4), 4) - np.diag(np.diag(p, -4), -4)
            )
            == 0
        )


def test_weak_boxes_carry_a_track_but_never_make_one() -> None:
    tr = ByteTracker(high=0.3, low=0.1, max_misses=15)
    box = (100.0, 100.0, 200.0, 180.0)
    # a car first seen clearly, then only weakly for two seconds: one track throughout
    for i in range(25):
        b = (box[0] + 4 * i, box[1], box[2] + 4 * i, box[3])
        tr.update(i / 10, i, [_det(b, 0.6 if i < 3 else 0.15)])
    # a shape the detector is never sure of: weak boxes for two seconds
    ghost = ByteTracker(high=0.3, low=0.1, start=0.1, max_misses=15)
    for i in range(25):
        ghost.update(i / 10, i, [_det((600, 300, 660, 340), 0.2)])
    (car,) = tr.tracks()
    assert len(car.points) == 25
    assert ghost.tracks() == []


def test_a_box_around_two_cars_is_not_either_of_them() -> None:
    """The detector sometimes draws one wide box over two cars side by side: the track of one of them
    must not jump onto it (and come out the size of both)."""
    tr = ByteTracker(high=0.3, low=0.1, max_misses=10)
    left = (100.0, 100.0, 160.0, 150.0)
    for i in range(5):
        tr.update(i / 10, i, [_det(left, 0.7)])
    tr.update(0.5, 5, [_det((95.0, 95.0, 300.0, 155.0), 0.5)])  # both cars in one box
    tr.update(0.6, 6, [_det(left, 0.7)])
    first = min(tr.tracks(), key=lambda t: t.first_t)
    assert [p.frame_index for p in first.points] == [0, 1, 2, 3, 4, 6]


def test_the_lane_crop_maps_its_boxes_back_to_the_frame() -> None:
    frame = np.zeros((720, 1280, 3), np.uint8)
    canvas, lay = lanecrop.compose(frame, 640)
    assert canvas.shape == (640, 640, 3)
    # the whole frame sits at the bottom at half scale, the crop above it at full scale
    whole = _det((100, lay.top + 50, 200, lay.top + 100), 0.6)
    crop_box = (300.0, 60.0, 340.0, 90.0)
    got = lanecrop.split([whole, _det(crop_box, 0.5)], lay, frame.shape)
    assert (got[0].x1, got[0].y1, got[0].x2, got[0].y2) == pytest.approx((200, 100, 400, 200))
    assert (got[1].x1, got[1].y1, got[1].x2, got[1].y2) == pytest.approx(
        (lay.x0 + 300, lay.y0 + 60, lay.x0 + 340, lay.y0 + 90)
    )
    # a box cut by the crop's side is half a car: dropped; the same car seen whole in the frame stays
    cut = _det((0, 40, 30, 90), 0.9)
    same = _det(
        ((lay.x0 - 20) / 2, lay.top + (lay.y0 + 40) / 2, (lay.x0 + 30) / 2, lay.top + (lay.y0 + 90) / 2), 0.4
    )
    got = lanecrop.split([cut, same], lay, frame.shape)
    assert len(got) == 1 and got[0].score == 0.4
    # a car found in both: once, as the more confident box
    both = lanecrop.split([_det(crop_box, 0.8), _det(tuple(v / 2 for v in crop_box), 0.3)], lay, frame.shape)
    assert len(both) == 2  # the halves are in different places: two boxes
    twin = (
        (lay.x0 + 300) / 2,
        lay.top + (lay.y0 + 60) / 2,
        (lay.x0 + 340) / 2,
        lay.top + (lay.y0 + 90) / 2,
    )
    (one,) = lanecrop.split([_det(crop_box, 0.8), _det(twin, 0.3)], lay, frame.shape)
    assert one.score == 0.8


def test_the_lane_crop_finds_the_distant_cars_the_whole_frame_misses(highway: dict[str, np.ndarray]) -> None:
    """On real highway stills, the int8 YOLO through LiteRT finds what it found before, and more small
    cars far down the road."""
    from dashcam.vision.boxes import iou_matrix
    from dashcam.vision.config import LiteRTDetectorConfig
    from dashcam.vision.detectors import build_detector
    from tests.support import models_dir

    det = build_detector(
        LiteRTDetectorConfig(model="yolov8n_full_integer_quant.tflite", fallback_model=None, conf=0.25),
        models_dir=models_dir(),
    )
    det.load()
    both = lanecrop.detector(det.detect, lanecrop.input_side(det) or 0)
    plain_n = crop_n = small_plain = small_crop = 0
    for frame in highway.values():
        vehicles = {"car", "truck", "bus"}
        plain = [d for d in det.detect([frame])[0] if d.label in vehicles]
        crop = [d for d in both([frame])[0] if d.label in vehicles]
        plain_n, crop_n = plain_n + len(plain), crop_n + len(crop)
        small_plain += sum(d.height < 40 for d in plain)
        small_crop += sum(d.height < 40 for d in crop)
        big = [d for d in plain if d.height >= 60]
        if big:
            iou = iou_matrix(np.array([d.xyxy for d in big]), np.array([d.xyxy for d in crop]).reshape(-1, 4))
            assert (iou.max(axis=1) >= 0.5).all(), "a near car found by the plain pass is lost"
    assert small_crop > small_plain, (small_plain, small_crop)
    assert crop_n >= plain_n


def test_a_receding_car_lost_for_seven_frames_stays_one_track() -> None:
    """A car pulling away, unseen for 7 frames (0.7 s at 10 fps), is found again where it went: one
    track, not two."""
    tr = ByteTracker(high=0.3, low=0.1, max_misses=10)
    for i in range(30):
        s = 0.94**i
        cx, cy, w, h = 640 + 3 * i, 420 - 4 * i, 260 * s, 200 * s
        if 10 <= i < 17:
            tr.update(i / 10, i, [])
            continue
        tr.update(i / 10, i, [_det((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), 0.6)])
    assert len(tr.tracks()) == 1
