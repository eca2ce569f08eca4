"""One IoU, one NMS: OpenCV's NMS keeps exactly the boxes a greedy loop keeps, ties and classes included."""

from __future__ import annotations

import numpy as np
import pytest

from dashcam.vision.boxes import iou, iou_matrix, nms
from dashcam.vision.types import Detection


def _greedy(
    boxes: np.ndarray, scores: np.ndarray, thr: float, max_det: int, classes: np.ndarray | None
) -> list[int]:
    """The reference: best first, a box goes when a kept box of its class overlaps it by more than thr."""
    keep: list[int] = []
    for i in np.argsort(-scores, kind="stable"):
        if len(keep) == max_det:
            break
        if all(
            (classes is not None and classes[i] != classes[k]) or iou(boxes[i], boxes[k]) <= thr for k in keep
        ):
            keep.append(int(i))
    return keep


def test_nms_keeps_best_and_respects_max_det() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [80, 80, 90, 90]], np.float32)
    scores = np.array([0.5, 0.9, 0.7, 0.6], np.float32)
    assert nms(boxes, scores, 0.5).tolist() == [1, 2, 3]
    assert nms(boxes, scores, 0.5, max_det=2).tolist() == [1, 2]
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).tolist() == []


def test_nms_is_classwise_with_class_ids() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11]], np.float32)
    scores = np.array([0.5, 0.9], np.float32)
    assert nms(boxes, scores, 0.5, class_ids=np.array([0, 0])).tolist() == [1]
    assert nms(boxes, scores, 0.5, class_ids=np.array([0, 1])).tolist() == [1, 0]


@pytest.mark.parametrize("seed", range(4))
def test_nms_keeps_what_a_greedy_loop_keeps(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for trial in range(60):
        n = int(rng.integers(1, 150))
        xy = rng.uniform(0, 600, (n, 2))
        boxes = np.concatenate([xy, xy + rng.uniform(0, 150, (n, 2))], axis=1).astype(np.float32)
        scores = rng.uniform(0.01, 1, n).astype(np.float32)
        if trial % 3 == 0:
            scores = np.round(scores, 1)  # ties: equal scores keep their input order
        classes = rng.integers(0, 3, n) if trial % 2 else None
        thr, max_det = float(rng.uniform(0.1, 0.9)), int(rng.integers(1, 200))
        assert nms(boxes, scores, thr, max_det, class_ids=classes).tolist() == _greedy(
            boxes, scores, thr, max_det, classes
        )


def test_iou_one_pair_and_matrix_agree() -> None:
    a = np.array([[0, 0, 10, 10], [5, 5, 15, 15], [3, 3, 3, 8]], np.float64)
    m = iou_matrix(a, a)
    for i in range(3):
        for j in range(3):
            assert m[i, j] == pytest.approx(iou(a[i], a[j]), abs=1e-9)
    assert iou((0, 0, 10, 10), (5, 5, 15, 15)) == pytest.approx(25 / 175)
    assert iou((3, 3, 3, 8), (3, 3, 3, 8)) == 0.0  # no area, no overlap
    d = Detection(0, 0, 10, 10, 0.9, "car", 2)
    assert d.iou((5, 5, 15, 15)) == d.iou(Detection(5, 5, 15, 15, 0.5, "car", 2)) == pytest.approx(25 / 175)
