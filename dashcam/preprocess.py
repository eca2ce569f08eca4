"""The cheap pass: which moments of a clip deserve the GPU.

Samples frames cheaply (keyframes only when they are dense enough, else a fixed rate), gates them by
motion / scene change so a static scene costs one detection, runs the coarse detector on what is left,
and turns the hits into padded, merged time windows with their coarse boxes. The result is a small,
deterministic JSON manifest: the same clip, model and config give the same bytes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from dashcam.config import DetectionSection
from dashcam.pipeline import STAGE_VERSIONS
from dashcam.video.decode import (
    Frame,
    VideoError,
    iter_frames,
    iter_keyframes,
    prefetch,
    probe_keyframes,
)

log = logging.getLogger(__name__)

SAMPLE_WIDTH = 640  # the coarse detectors run at 320-640 px: decoding bigger is wasted work
GATE_SIZE = (160, 90)
PREFETCH = 4  # samples decoded ahead while the detector runs
# Two landscape samples share one square detector input, stacked (each squeezed to half the height: a
# 16:9 frame loses 11 % of its height, which does not hide a vehicle). A letterboxed 16:9 frame wastes 44 %
# of a square input on grey bars, so the pair costs what one sample did. A hit still decides whether the
# sample after the pair is looked at.
PAIR_SIDE = 640
PAIR_MIN_ASPECT = 1.7  # width / height; squarer frames go one per call


class CoarseDetector(Protocol):
    def detect(self, frames: Sequence[np.ndarray]) -> list[list[Any]]: ...


@dataclass
class CoarseBox:
    t: float
    label: str
    score: float
    box: list[float]  # x1, y1, x2, y2 in the original frame's pixels


@dataclass
class TimeWindow:
    start: float
    end: float
    labels: list[str]
    score: float
    boxes: list[CoarseBox] = field(default_factory=list)


@dataclass
class Manifest:
    clip_hash: str
    stage_version: str
    model: str
    config_hash: str
    duration_s: float
    width: int
    height: int
    sample_mode: str
    samples: int
    detected_samples: int
    static_samples: int
    windows: list[TimeWindow]
    error: str | None = None

    @property
    def seconds_passed(self) -> float:
        return round(sum(w.end - w.start for w in self.windows), 3)

    def to_json(self) -> bytes:
        doc = asdict(self)
        doc["seconds_passed"] = self.seconds_passed
        return (json.dumps(doc, sort_keys=True, indent=1) + "\n").encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> Manifest:
        doc = json.loads(data)
        doc.pop("seconds_passed", None)
        wins = [
            TimeWindow(**{**w, "boxes": [CoarseBox(**b) for b in w["boxes"]]}) for w in doc.pop("windows")
        ]
        return cls(**doc, windows=wins)


class MotionGate:
    """Tells whether a sample differs enough from the last one that was looked at."""

    def __init__(self, threshold: float, pixel_delta: int = 25):
        self.threshold = threshold
        self.pixel_delta = pixel_delta
        self._ref: np.ndarray | None = None

    def changed(self, image: np.ndarray) -> bool:
        small = cv2.resize(image, GATE_SIZE, interpolation=cv2.INTER_AREA)
        gray = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (5, 5), 0)
        if self._ref is None:
            self._ref = gray
            return True
        frac = float(np.count_nonzero(cv2.absdiff(gray, self._ref) > self.pixel_delta)) / gray.size
        if frac >= self.threshold:
            # compare the next sample with this one: slow drift over many samples still counts
            self._ref = gray
            return True
        return False


def detect_samples(detector: CoarseDetector, images: Sequence[np.ndarray]) -> list[list[Any]]:
    """Coarse detections of each sample, in sample pixels; two wide samples go through one call."""
    if len(images) != 2 or any(i.shape[1] < PAIR_MIN_ASPECT * i.shape[0] for i in images):
        return [detector.detect([img])[0] for img in images]
    half = PAIR_SIDE // 2
    canvas = np.vstack([cv2.resize(img, (PAIR_SIDE, half), interpolation=cv2.INTER_AREA) for img in images])
    out: list[list[Any]] = [[], []]
    for d in detector.detect([canvas])[0]:
        k = 0 if (d.y1 + d.y2) / 2 < half else 1
        h, w = images[k].shape[:2]
        fx, fy, top = w / PAIR_SIDE, h / half, k * half
        y1, y2 = (min(max(v - top, 0.0), half) for v in (d.y1, d.y2))
        out[k].append(replace(d, x1=d.x1 * fx, x2=d.x2 * fx, y1=y1 * fy, y2=y2 * fy))
    return out


def _samples(
    path: Path, cfg: DetectionSection, duration: float, kts: list[float]
) -> tuple[str, Iterator[Frame]]:
    """Keyframes when they come at least as often as the sample rate asks, else decode at that rate."""
    gaps = [b - a for a, b in zip(kts, kts[1:], strict=False)]
    gap = max(gaps) if gaps else duration
    if kts and gap <= max(1.0 / cfg.sample_fps, cfg.max_sample_gap_s):
        return "keyframes", iter_keyframes(path, max_width=SAMPLE_WIDTH)
    return f"{cfg.sample_fps:g}fps", iter_frames(path, fps=cfg.sample_fps, max_width=SAMPLE_WIDTH)


def merge_windows(
    hits: Iterable[tuple[float, list[CoarseBox]]], pad: float, duration: float
) -> list[TimeWindow]:
    """Padded windows around the hit times, overlapping ones merged, clamped to the clip."""
    out: list[TimeWindow] = []
    for t, boxes in sorted(hits, key=lambda h: h[0]):
        start, end = max(0.0, t - pad), min(duration, t + pad) if duration > 0 else t + pad
        score = max((b.score for b in boxes), default=0.0)
        labels = sorted({b.label for b in boxes})
        if out and start <= out[-1].end + 1e-6:
            w = out[-1]
            w.end = max(w.end, end)
            w.labels = sorted(set(w.labels) | set(labels))
            w.score = max(w.score, score)
            w.boxes.extend(boxes)
        else:
            out.append(TimeWindow(round(start, 3), round(end, 3), labels, score, list(boxes)))
    for w in out:
        w.start, w.end, w.score = round(w.start, 3), round(w.end, 3), round(w.score, 4)
    return out


def preprocess_clip(
    path: str | Path,
    *,
    detector: CoarseDetector,
    cfg: DetectionSection,
    clip_hash: str,
    model: str,
    config_hash: str,
    on_sample: Callable[[float], None] | None = None,
) -> Manifest:
    """Run the cheap pass over one clip. A decode error mid-clip keeps the windows found before it."""
    path = Path(path)
    info, kts = probe_keyframes(path, limit=16)
    if info.duration_s <= 0:
        raise VideoError(f"{path.name}: video has no duration")
    scale = info.width / min(info.width, SAMPLE_WIDTH)
    mode, decoded = _samples(path, cfg, info.duration_s, kts)
    frames = prefetch(decoded, PREFETCH)
    gate = MotionGate(cfg.motion_threshold)
    wanted = set(cfg.coarse_labels)
    hits: list[tuple[float, list[CoarseBox]]] = []
    samples = static = detected = covered = 0
    batch: list[Frame] = []
    error: str | None = None
    skipped_last = False

    def flush() -> None:
        nonlocal detected
        if not batch:
            return
        results = detect_samples(detector, [f.image for f in batch])
        for frame, dets in zip(batch, results, strict=True):
            boxes = [
                CoarseBox(
                    round(frame.t, 3),
                    d.label,
                    round(float(d.score), 4),
                    [round(float(v) * scale, 1) for v in (d.x1, d.y1, d.x2, d.y2)],
                )
                for d in dets
                if d.label in wanted and d.score >= cfg.coarse_conf
            ]
            if boxes:
                detected += 1
                hits.append((frame.t, boxes))
        batch.clear()

    try:
        for frame in frames:
            samples += 1
            if on_sample:
                on_sample(frame.t)
            if not gate.changed(frame.image):
                static += 1
                continue
            # the window around the last hit already reaches this sample, and the next sample (always looked
            # at) joins that window if it hits: skipping this one can at most trim the window's tail when a
            # vehicle is here but gone by the next sample (by less than one sample gap)
            last_hit = hits[-1][0] if hits else None
            if (
                last_hit is not None
                and skipped_last is False
                and frame.t - last_hit <= cfg.window_pad_s + 1e-6
            ):
                covered += 1
                skipped_last = True
                continue
            skipped_last = False
            batch.append(frame)
            if len(batch) >= 2:
                flush()
    except VideoError as exc:
        error = str(exc)
        log.warning("%s", error)
    flush()
    if samples == 0 and error:
        raise VideoError(error)
    return Manifest(
        clip_hash=clip_hash,
        stage_version=STAGE_VERSIONS["preprocess"],
        model=model,
        config_hash=config_hash,
        duration_s=round(info.duration_s, 3),
        width=info.width,
        height=info.height,
        sample_mode=mode,
        samples=samples,
        detected_samples=detected,
        static_samples=static,
        windows=merge_windows(hits, cfg.window_pad_s, info.duration_s),
        error=error,
    )
