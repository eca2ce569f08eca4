"""YOLO pre- and post-processing shared by the raw-runtime backends (litert, onnxruntime).

Ultralytics' detect exports emit one tensor per image: [4 + nc, N] (or transposed [N, 4 + nc]) with
cx, cy, w, h then one score per class, no NMS; TFLite exports give the box in 0..1 of the input size.
NMS-free (end-to-end) exports emit [K, 6]: x1, y1, x2, y2, score, class.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import cv2
import numpy as np

from dashcam.vision.boxes import nms
from dashcam.vision.types import Detection

# Offset that separates classes in one NMS pass: larger than any input image side.
_CLASS_OFFSET = 8192.0


@dataclass(frozen=True)
class Letterbox:
    """How a frame was fitted into the model input: scale first, then padding on the left/top."""

    scale: float
    pad_x: float
    pad_y: float

    def to_frame(self, boxes: np.ndarray, frame_shape: tuple[int, ...]) -> np.ndarray:
        """Map xyxy boxes from model-input pixels back to the original frame, clipped to it."""
        out = boxes.astype(np.float32, copy=True)
        out[:, [0, 2]] = (out[:, [0, 2]] - self.pad_x) / self.scale
        out[:, [1, 3]] = (out[:, [1, 3]] - self.pad_y) / self.scale
        h, w = frame_shape[:2]
        out[:, [0, 2]] = out[:, [0, 2]].clip(0, w)
        out[:, [1, 3]] = out[:, [1, 3]].clip(0, h)
        return out


def letterbox(frame: np.ndarray, size: tuple[int, int], color: int = 114) -> tuple[np.ndarray, Letterbox]:
    """Resize keeping the aspect ratio and pad evenly to ``size`` (height, width), like ultralytics."""
    h, w = frame.shape[:2]
    th, tw = size
    scale = min(th / h, tw / w)
    nh, nw = round(h * scale), round(w * scale)
    resized = frame if (nh, nw) == (h, w) else cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_LINEAR)
    if (nh, nw) == (th, tw):  # nothing to pad (the lane-crop canvas): no copy
        return resized, Letterbox(scale=scale, pad_x=0.0, pad_y=0.0)
    top, left = (th - nh) // 2, (tw - nw) // 2
    out = cv2.copyMakeBorder(
        resized, top, th - nh - top, left, tw - nw - left, cv2.BORDER_CONSTANT, value=(color, color, color)
    )
    return out, Letterbox(scale=scale, pad_x=float(left), pad_y=float(top))


def quantize(x: np.ndarray, scale: float, zero_point: int, dtype: np.dtype) -> np.ndarray:
    """Float to integer tensor values: round(x / scale + zero_point), clipped to the dtype."""
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale + zero_point), info.min, info.max).astype(dtype)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """Integer tensor values to float: (q - zero_point) * scale; float input passes through."""
    if not np.issubdtype(q.dtype, np.integer) or scale == 0:
        return q.astype(np.float32, copy=False)
    return (q.astype(np.float32) - zero_point) * np.float32(scale)


def _pixel_table(dtype: np.dtype, scale: float, zero_point: int) -> np.ndarray:
    """The quantized value of each 8-bit pixel value (x / 255 through the input's scale and zero point)."""
    return quantize(np.arange(256, dtype=np.float32) / 255.0, scale, zero_point, dtype)


def to_input(
    img_bgr: np.ndarray,
    *,
    nchw: bool,
    dtype: np.dtype,
    quant: tuple[float, int] | None = None,
) -> np.ndarray:
    """A letterboxed BGR image as a [1, ...] RGB tensor scaled to 0..1 (then quantized for int inputs)."""
    dtype = np.dtype(dtype)
    is_bgr8 = img_bgr.dtype == np.uint8 and img_bgr.ndim == 3 and img_bgr.shape[2] == 3
    if np.issubdtype(dtype, np.integer):
        scale, zero_point = quant if quant and quant[0] else (1.0 / 255.0, 0)
        # A 256-entry table instead of float maths on every pixel (8 ms -> ~1 ms on a 640x640 input),
        # applied by OpenCV on the bytes where it can (numpy's fancy indexing alone takes ~2 ms)
        table = _pixel_table(dtype, scale, zero_point)
        if is_bgr8 and dtype.itemsize == 1:
            x = cv2.LUT(cv2.cvtColor(img_bgr, cv2.COLOR_BGR2RGB), table.view(np.uint8)).view(dtype)
        else:
            x = table[img_bgr[..., ::-1]]
    elif is_bgr8 and dtype == np.float32:
        if nchw:  # scaled, channels swapped and laid out N, C, H, W in one call
            return cv2.dnn.blobFromImage(img_bgr, 1.0 / 255.0, swapRB=True)
        x = cv2.cvtColor(img_bgr, cv2.COLOR_BGR2RGB).astype(np.float32)
        x *= np.float32(1.0 / 255.0)
    else:
        x = img_bgr[..., ::-1].astype(dtype) * dtype.type(1.0 / 255.0)
    if nchw:
        x = x.transpose(2, 0, 1)
    return np.ascontiguousarray(x[None])


def channels_first(pred: np.ndarray, num_classes: int | None) -> np.ndarray:
    """One image's raw prediction as [4 + nc, N], whichever way round the model emitted it."""
    if pred.ndim != 2:
        raise ValueError(f"expected a 2-D prediction per image, got shape {pred.shape}")
    rows, cols = pred.shape
    if num_classes is not None:
        if rows == 4 + num_classes:
            return pred
        if cols == 4 + num_classes:
            return pred.T
        raise ValueError(
            f"model output {pred.shape} does not fit {num_classes} classes (4 + nc rows or columns)"
        )
    return pred if rows < cols else pred.T


def decode_yolo(
    pred: np.ndarray,
    *,
    input_size: tuple[int, int],
    conf: float,
    iou: float,
    num_classes: int | None = None,
    normalized: bool = False,
    end2end: bool = False,
    keep_classes: set[int] | None = None,
    max_det: int = 300,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode one image's float prediction to (xyxy boxes in input pixels, scores, class ids), after NMS."""
    ih, iw = input_size
    if end2end:
        rows = pred.reshape(-1, pred.shape[-1])
        boxes, scores, class_ids = rows[:, :4].astype(np.float32), rows[:, 4], rows[:, 5].astype(np.int64)
        if normalized:
            boxes = boxes * np.array([iw, ih, iw, ih], dtype=np.float32)
        mask = scores >= conf
        if keep_classes is not None:
            mask &= np.isin(class_ids, list(keep_classes))
        boxes, scores, class_ids = boxes[mask], scores[mask], class_ids[mask]
        order = np.argsort(-scores, kind="stable")[:max_det]
        return boxes[order], scores[order].astype(np.float32), class_ids[order]
    p = channels_first(pred, num_classes)
    cls_scores = p[4:]
    class_ids = cls_scores.argmax(axis=0)
    scores = cls_scores[class_ids, np.arange(p.shape[1])]
    mask = scores >= conf
    if keep_classes is not None:
        mask &= np.isin(class_ids, list(keep_classes))
    cx, cy, w, h = (p[i, mask].astype(np.float32) for i in range(4))
    if normalized:
        cx, w, cy, h = cx * iw, w * iw, cy * ih, h * ih
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    scores, class_ids = scores[mask].astype(np.float32), class_ids[mask].astype(np.int64)
    if not len(scores):
        return boxes.reshape(0, 4), scores, class_ids
    keep = nms(boxes, scores, iou, max_det, class_ids=class_ids)  # class-wise
    return boxes[keep], scores[keep], class_ids[keep]


def to_detections(
    boxes: np.ndarray,
    scores: np.ndarray,
    class_ids: np.ndarray,
    *,
    names: Mapping[int, str],
    box: Letterbox,
    frame_shape: tuple[int, ...],
) -> list[Detection]:
    """Detections in original-frame pixels from decoded model-input boxes."""
    frame_boxes = box.to_frame(boxes, frame_shape)
    return [
        Detection(
            x1=float(b[0]),
            y1=float(b[1]),
            x2=float(b[2]),
            y2=float(b[3]),
            score=float(s),
            label=names.get(int(c), str(int(c))),
            class_id=int(c),
        )
        for b, s, c in zip(frame_boxes, scores, class_ids, strict=True)
    ]
