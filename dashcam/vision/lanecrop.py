"""The whole frame and the lane ahead at twice its detail, in one square detector input.

A wide frame letterboxed into a square input leaves a third of it grey: a 16:9 frame fills 640 x 360 of
640 x 640. That grey band is free room. Here it holds a crop of the middle of the frame around the
horizon, where distant vehicles are, at twice the scale of the whole frame: a car 40 px tall in a 1280 x
720 frame is 20 px at the whole frame's scale (where YOLOv8n finds few) and 40 px in the crop. One
inference, as before, sees both. Boxes come back in frame pixels; a vehicle found in both places is kept
once, and a box cut by the crop's edge is left to the whole frame.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import cv2
import numpy as np

from dashcam.vision.boxes import iou_matrix
from dashcam.vision.tracking import label_group
from dashcam.vision.types import Detection

MIN_ASPECT = 1.6  # width / height: squarer frames fill the input themselves
HORIZON = 0.47  # the crop's middle, as a fraction of the frame height (a dashcam's horizon)
EDGE_PX = 3.0  # a crop box this close to a crop edge inside the frame is cut by it
SAME_IOU = 0.45  # a crop box and a whole-frame box overlapping this much are one object
PAD = 114  # the grey of YOLO's letterbox
GAP = 16  # px of grey between the two parts: a box does not run from one into the other


@dataclass(frozen=True)
class Layout:
    """Where each part of the canvas came from: the crop (frame pixels x0..x1, y0..y1) at ``crop_scale``
    in rows [0, band); the whole frame at ``scale`` from row ``top`` down."""

    scale: float
    band: int
    top: int
    x0: float
    y0: float
    x1: float
    y1: float
    crop_scale: float


def fits(shape: Sequence[int], side: int) -> bool:
    """Whether a frame of ``shape`` leaves room for the crop in a ``side`` x ``side`` input."""
    h, w = shape[:2]
    return w >= MIN_ASPECT * h and round(h * side / w) <= side - side // 4


def compose(frame: np.ndarray, side: int) -> tuple[np.ndarray, Layout]:
    """The ``side`` x ``side`` canvas: the crop on top, the frame scaled to the full width below it (YOLOv8n
    int8 finds big vehicles less often in a frame pressed against the input's top edge: 0.72 against 0.81
    of those over 80 px at score >= 0.1, on synthetic drives; lower down it finds what the letterbox does).
    The crop's band takes all the room above: a thin band above and below a centred frame found fewer
    vehicles of 40-160 px (0.83 and 0.78 against 0.91 and 0.86)."""
    h, w = frame.shape[:2]
    scale = side / w
    top_h = round(h * scale)
    top = side - top_h
    band = top - GAP
    crop_scale = 2 * scale
    cw, ch = side / crop_scale, band / crop_scale  # the crop in frame pixels
    x0 = (w - cw) / 2
    y0 = min(max(0.0, HORIZON * h - ch / 2), max(0.0, h - ch))
    # both parts resized straight into the canvas, only the gap between them painted: this runs on every
    # frame the heavy stage decodes
    canvas = np.empty((side, side, 3), dtype=np.uint8)
    canvas[band:top] = PAD
    canvas[top + top_h :] = PAD
    crop = frame[int(y0) : int(y0 + ch), int(x0) : int(x0 + cw)]
    cv2.resize(crop, (side, band), dst=canvas[:band], interpolation=cv2.INTER_LINEAR)
    cv2.resize(frame, (side, top_h), dst=canvas[top : top + top_h], interpolation=cv2.INTER_LINEAR)
    return canvas, Layout(scale, band, top, x0, y0, x0 + cw, y0 + ch, crop_scale)


def split(dets: Sequence[Detection], lay: Layout, shape: Sequence[int]) -> list[Detection]:
    """Canvas detections as frame detections: each part's boxes mapped back, crop boxes cut by the crop's
    edge dropped, an object found in both parts kept once (the more confident box)."""
    h, w = shape[:2]
    whole: list[Detection] = []
    crop: list[Detection] = []
    for d in dets:
        if (d.y1 + d.y2) / 2 >= lay.band + GAP / 2:
            s = lay.scale
            y1 = (max(d.y1, float(lay.top)) - lay.top) / s
            whole.append(replace(d, x1=d.x1 / s, y1=y1, x2=d.x2 / s, y2=min((d.y2 - lay.top) / s, float(h))))
            continue
        s = lay.crop_scale
        x1, x2 = lay.x0 + d.x1 / s, lay.x0 + d.x2 / s
        y1, y2 = lay.y0 + d.y1 / s, lay.y0 + min(d.y2, float(lay.band)) / s
        cut = (
            (x1 <= lay.x0 + EDGE_PX and lay.x0 > 0)
            or (x2 >= lay.x1 - EDGE_PX and lay.x1 < w)
            or (y1 <= lay.y0 + EDGE_PX and lay.y0 > 0)
            or (y2 >= lay.y1 - EDGE_PX and lay.y1 < h)
        )
        if not cut:
            crop.append(replace(d, x1=x1, y1=y1, x2=x2, y2=y2))
    if not crop or not whole:
        return whole + crop
    iou = iou_matrix(
        np.array([d.xyxy for d in crop], dtype=float), np.array([d.xyxy for d in whole], dtype=float)
    )
    drop_whole: set[int] = set()
    keep_crop: list[Detection] = []
    for i, c in enumerate(crop):
        same = [
            j
            for j in np.flatnonzero(iou[i] >= SAME_IOU)
            if label_group(whole[j].label) == label_group(c.label)
        ]
        if not same:
            keep_crop.append(c)
        elif c.score >= max(whole[j].score for j in same):
            keep_crop.append(c)
            drop_whole.update(int(j) for j in same)
    return [d for j, d in enumerate(whole) if j not in drop_whole] + keep_crop


def detector(
    detect: Callable[[list[np.ndarray]], list[list[Detection]]], side: int
) -> Callable[[list[np.ndarray]], list[list[Detection]]]:
    """``detect`` (a batch of BGR frames in, their detections out) looking at the lane ahead too, for
    a detector whose input is ``side`` x ``side``; frames too square for the crop go through as they are."""

    def run(frames: list[np.ndarray]) -> list[list[Detection]]:
        made = [compose(f, side) if fits(f.shape, side) else (f, None) for f in frames]
        found = detect([img for img, _ in made])
        return [
            split(d, lay, f.shape) if lay is not None else d
            for d, (_, lay), f in zip(found, made, frames, strict=True)
        ]

    return run


def input_side(det: object) -> int | None:
    """The square input side of a loaded detector whose input is square whatever the frame: a YOLO export
    at a fixed size (LiteRT, onnxruntime), or ultralytics on a GPU (its own size, or 640). Ultralytics on
    a CPU letterboxes a wide frame to a wide input (640 x 384), where a square canvas would cost 1.7x."""
    size = getattr(det, "input_size", None)
    if size is not None:
        return int(size[0]) if size[0] == size[1] else None
    cfg = getattr(det, "cfg", None)
    if str(getattr(cfg, "device", "cpu")).startswith("cuda"):
        return int(getattr(cfg, "imgsz", None) or 640)
    return None
