"""YOLO decoding on hand-made tensors: letterbox mapping, layouts, int8 outputs, class-wise NMS."""

from __future__ import annotations

import numpy as np
import pytest

from dashcam.vision import yolo_decode as yd


def _pred(boxes: list[tuple[float, float, float, float]], cls_scores: list[list[float]]) -> np.ndarray:
    """A [4 + nc, N] prediction from cx, cy, w, h boxes and per-class scores."""
    return np.concatenate([np.array(boxes, np.float32).T, np.array(cls_scores, np.float32).T])


def test_letterbox_pads_evenly_and_maps_boxes_back() -> None:
    frame = np.zeros((720, 1280, 3), np.uint8)
    img, box = yd.letterbox(frame, (640, 640))
    assert img.shape == (640, 640, 3)
    assert box.scale == pytest.approx(0.5)
    assert (box.pad_x, box.pad_y) == (0.0, 140.0)
    assert img[0, 0].tolist() == [114, 114, 114] and img[320, 320].tolist() == [0, 0, 0]
    # a box drawn in input pixels lands at twice the size, shifted up by the padding
    back = box.to_frame(np.array([[100, 240, 200, 340]], np.float32), frame.shape)
    assert back[0].tolist() == pytest.approx([200, 200, 400, 400])


def test_an_input_already_the_models_size_passes_through_uncopied() -> None:
    canvas = np.zeros((640, 640, 3), np.uint8)  # the lane-crop canvas
    img, box = yd.letterbox(canvas, (640, 640))
    assert img is canvas and (box.scale, box.pad_x, box.pad_y) == (1.0, 0.0, 0.0)


def test_to_frame_clips_to_the_frame() -> None:
    box = yd.Letterbox(scale=1.0, pad_x=0, pad_y=10)
    back = box.to_frame(np.array([[-5, 0, 700, 500]], np.float32), (480, 640, 3))
    assert back[0].tolist() == [0, 0, 640, 480]


def test_quantize_round_trip_and_to_input_int8() -> None:
    x = np.linspace(0, 1, 11, dtype=np.float32)
    q = yd.quantize(x, 1 / 255, -128, np.dtype(np.int8))
    assert q.dtype == np.int8 and q[0] == -128 and q[-1] == 127
    assert yd.dequantize(q, 1 / 255, -128) == pytest.approx(x, abs=1 / 255)
    t = yd.to_input(
        np.full((4, 4, 3), 255, np.uint8), nchw=True, dtype=np.dtype(np.int8), quant=(1 / 255, -128)
    )
    assert t.shape == (1, 3, 4, 4) and t.dtype == np.int8 and int(t.max()) == 127
    f = yd.to_input(np.zeros((4, 4, 3), np.uint8), nchw=False, dtype=np.dtype(np.float32))
    assert f.shape == (1, 4, 4, 3) and f.dtype == np.float32


@pytest.mark.parametrize("nchw", [False, True])
@pytest.mark.parametrize(
    ("dtype", "quant"),
    [(np.int8, (1 / 255, -128)), (np.uint8, (1 / 255, 0)), (np.int8, (0.0078, -1)), (np.float32, None)],
)
def test_to_input_fast_paths_match_the_plain_maths(nchw: bool, dtype: type, quant: tuple | None) -> None:
    """8-bit BGR frames go through OpenCV (a LUT, blobFromImage): the very same tensor as numpy's maths."""
    img = np.random.default_rng(7).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    got = yd.to_input(img, nchw=nchw, dtype=np.dtype(dtype), quant=quant)
    rgb = img[..., ::-1].astype(np.float32) / 255.0
    want = yd.quantize(rgb, *quant, np.dtype(dtype)) if np.issubdtype(dtype, np.integer) else rgb
    if nchw:
        want = want.transpose(2, 0, 1)
    assert got.dtype == np.dtype(dtype) and got.shape == (1, *want.shape) and got.flags.c_contiguous
    assert np.abs(got[0].astype(np.float64) - want.astype(np.float64)).max() <= (
        1e-6 if dtype is np.float32 else 0
    )


def test_decode_both_layouts_agree_and_nms_is_classwise() -> None:
    pred = _pred(
        [(100, 100, 40, 40), (102, 101, 40, 40), (101, 100, 40, 40), (300, 300, 20, 10)],
        [[0.9, 0.1], [0.8, 0.1], [0.1, 0.7], [0.05, 0.1]],
    )
    boxes, scores, ids = yd.decode_yolo(pred, input_size=(640, 640), conf=0.25, iou=0.45, num_classes=2)
    # box 2 overlaps box 1 but has another class: kept; box 1 suppressed; box 4 under the threshold
    assert scores.tolist() == pytest.approx([0.9, 0.7])
    assert ids.tolist() == [0, 1]
    assert boxes[0].tolist() == pytest.approx([80, 80, 120, 120])
    t_boxes, t_scores, t_ids = yd.decode_yolo(
        pred.T, input_size=(640, 640), conf=0.25, iou=0.45, num_classes=2
    )
    assert np.array_equal(t_boxes, boxes) and np.array_equal(t_ids, ids)
    only1 = yd.decode_yolo(pred, input_size=(640, 640), conf=0.25, iou=0.45, num_classes=2, keep_classes={1})
    assert only1[2].tolist() == [1]


def test_decode_int8_normalised_output_like_the_tflite_export() -> None:
    scale, zp = 1 / 255, -128
    pred = _pred([(0.5, 0.25, 0.1, 0.2)], [[0.0, 0.95]])
    q = yd.quantize(pred, scale, zp, np.dtype(np.int8))
    boxes, scores, ids = yd.decode_yolo(
        yd.dequantize(q, scale, zp), input_size=(320, 640), conf=0.5, iou=0.5, num_classes=2, normalized=True
    )
    assert ids.tolist() == [1] and scores[0] == pytest.approx(0.95, abs=0.01)
    assert boxes[0].tolist() == pytest.approx([288, 48, 352, 112], abs=2)


def test_decode_single_class_and_shape_errors() -> None:
    pred = _pred([(50, 50, 10, 10)] * 3 + [(200, 200, 10, 10)], [[0.6], [0.5], [0.4], [0.3]])
    assert pred.shape == (5, 4)
    boxes, scores, _ = yd.decode_yolo(pred, input_size=(320, 320), conf=0.25, iou=0.5, num_classes=1)
    assert scores.tolist() == pytest.approx([0.6, 0.3])
    with pytest.raises(ValueError, match="does not fit 80 classes"):
        yd.decode_yolo(pred, input_size=(320, 320), conf=0.25, iou=0.5, num_classes=80)
    empty = yd.decode_yolo(pred, input_size=(320, 320), conf=0.99, iou=0.5, num_classes=1)
    assert empty[0].shape == (0, 4)


def test_decode_end2end_rows() -> None:
    rows = np.array([[10, 10, 50, 50, 0.9, 2], [0, 0, 5, 5, 0.1, 0], [60, 60, 90, 90, 0.6, 7]], np.float32)
    boxes, scores, ids = yd.decode_yolo(rows, input_size=(640, 640), conf=0.5, iou=0.5, end2end=True)
    assert ids.tolist() == [2, 7] and boxes[1].tolist() == [60, 60, 90, 90]


def test_to_detections_uses_names_and_frame_coordinates() -> None:
    dets = yd.to_detections(
        np.array([[10, 20, 30, 40]], np.float32),
        np.array([0.8], np.float32),
        np.array([2]),
        names={2: "car"},
        box=yd.Letterbox(scale=0.5, pad_x=0, pad_y=0),
        frame_shape=(720, 1280, 3),
    )
    assert dets[0].label == "car" and dets[0].xyxy == (20, 40, 60, 80) and dets[0].class_id == 2
