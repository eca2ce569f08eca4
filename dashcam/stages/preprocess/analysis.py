"""The cheap pass: which moments of a clip deserve the GPU.

Samples frames cheaply, GOP by GOP (:func:`sample_frames`): keyframes, decoded alone, and inside GOPs too
long to stand for their frames a fixed rate; a still scene is looked at ever more rarely, and its long GOPs
not inside at all. A motion gate keeps what did not change from the detector, so a static scene costs one
detection. The coarse detector's hits become padded, merged time windows with their coarse boxes. The
result is a small, deterministic JSON manifest: the same clip, model and config give the same bytes.
"""

from __future__ import annotations

import bisect
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from dashcam.config import DetectionSection
from dashcam.stages.keys import STAGE_VERSIONS
from dashcam.video.decode import Frame, VideoError, prefetch
from dashcam.video.gop import Gop, GopReader
from dashcam.vision import lanecrop

log = logging.getLogger(__name__)

SAMPLE_WIDTH = 640  # the coarse detectors run at 320-640 px: decoding bigger is wasted work
# A box whose narrow side is under this fraction of the frame's width is not a vehicle anyone can use (13 px
# at 1280: no plate, no colour, further than the heavy stage tracks). Seen at twice the detail, the lane
# ahead shows the detector such specks on an empty road, scored at the coarse threshold.
MIN_BOX_SIDE = 0.01
GATE_SIZE = (160, 90)
LOCAL_PATCH = (12, 12)  # gate pixels: a car 50 px tall in a 360p frame
LOCAL_THRESHOLD = 0.25
PREFETCH = 4  # samples decoded ahead while the detector runs
# Two landscape samples share one square detector input, stacked (each squeezed to half the height: a
# 16:9 frame loses 11 % of its height, which does not hide a vehicle). A letterboxed 16:9 frame wastes 44 %
# of a square input on grey bars, so the pair costs what one sample did. A hit still decides whether the
# sample after the pair is looked at.
PAIR_SIDE = 640
PAIR_MIN_ASPECT = 1.7  # width / height; squarer frames go one per call
# A GOP whose difference frames carry this many times the clip's still level of bytes (its median GOP)
# has motion in it. The floor keeps a clip of identical frames (no bytes at all) from hinting at noise.
ACTIVITY_HINT = 2.0
ACTIVITY_FLOOR = 0.001


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
    keyframes_skipped: int = 0
    lane_looks: int = 0  # samples looked at again with the lane crop (nothing found at the pair's scale)

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
    """Tells whether a sample differs enough from the last one that was looked at: in the whole picture
    (``threshold`` of its pixels), or in one place of it (``LOCAL_THRESHOLD`` of some patch the size of a
    near car), so one car moving across a still scene counts though it changes little of the picture."""

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
        moved = (cv2.absdiff(gray, self._ref) > self.pixel_delta).astype(np.float32)
        frac = float(moved.mean())
        local = float(cv2.blur(moved, LOCAL_PATCH).max()) if frac > 0 else 0.0
        if frac >= self.threshold or local >= LOCAL_THRESHOLD:
            # compare the next sample with this one: slow drift over many samples still counts
            self._ref = gray
            return True
        return False


def detect_samples(
    detector: CoarseDetector, images: Sequence[np.ndarray], *, lane_crop: bool = False
) -> list[list[Any]]:
    """Coarse detections of each sample, in sample pixels. With ``lane_crop`` each wide sample fills one
    input with the lane ahead at twice its scale above it (:mod:`dashcam.vision.lanecrop`: distant vehicles,
    29-39 px tall in a 1280 x 720 drive, are 15-20 px in a 640 px sample, too small for the detector);
    otherwise two wide samples go through one call."""
    if lane_crop:
        return lanecrop.detector(detector.detect, PAIR_SIDE)(list(images))
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


@dataclass
class Sample:
    """A decoded sample and whether the motion gate saw a change in it."""

    frame: Frame
    changed: bool


@dataclass
class SamplingStats:
    keyframes_skipped: int = 0  # GOPs whose keyframe was never decoded (a still scene)
    longest_gop_s: float = 0.0


def _activity_threshold(still: float) -> float:
    return ACTIVITY_HINT * max(still, ACTIVITY_FLOOR)


def sample_frames(
    reader: GopReader, cfg: DetectionSection, gate: MotionGate, stats: SamplingStats, *, long_gop_s: float
) -> Iterator[Sample]:
    """The samples of a clip, gated, deciding GOP by GOP what to decode.

    Every keyframe is looked at while the scene changes. Once it is still, looks thin out (the wait
    doubles after each still look, up to ``static_max_gap_s``), unless a GOP's own packets show motion
    (:attr:`Gop.activity` well above the clip's still level), which brings the next looks back at once.
    A look that finds a change first looks back at the GOPs passed over since the last look, so a vehicle
    is seen from when it came. A GOP longer than ``long_gop_s`` is also sampled inside at ``sample_fps``,
    where something moves in it (a still one's keyframe stands for it).
    """
    period = 1.0 / cfg.sample_fps
    cap = cfg.static_max_gap_s
    seen: list[float] = []  # activity of the GOPs so far, sorted: their median is the still level
    passed: list[Gop] = []  # GOPs passed over since the last look
    wait = 0.0
    last_look: float | None = None

    def look_inside(gop: Gop, *, hinted: bool, changed: bool) -> Iterator[Sample]:
        if gop.end - gop.t > long_gop_s and (hinted or changed):
            for f in reader.frames(gop, period):
                yield Sample(f, gate.changed(f.image))

    def look_back() -> Iterator[Sample]:
        for g in passed:  # something changed since the last look: when did it come?
            yield Sample(reader.keyframe(g), True)
            yield from look_inside(g, hinted=True, changed=True)
        passed.clear()

    for gop in reader.gops():
        stats.longest_gop_s = max(stats.longest_gop_s, gop.end - gop.t)
        still = seen[len(seen) // 2] if seen else ACTIVITY_FLOOR
        hinted = gop.activity > _activity_threshold(still)
        bisect.insort(seen, gop.activity)
        if not (last_look is None or hinted or gop.t - last_look >= wait - 1e-6):
            passed.append(gop)
            continue
        key = reader.keyframe(gop)
        changed = gate.changed(key.image)
        if changed:
            yield from look_back()
        else:
            stats.keyframes_skipped += len(passed)
            passed.clear()
        yield Sample(key, changed)
        last_look = gop.t
        for sample in look_inside(gop, hinted=hinted, changed=changed):
            changed = changed or sample.changed
            yield sample
        wait = 0.0 if changed or hinted else min(cap, max(gop.end - gop.t, 2 * wait))
    if passed:  # the clip ended while the scene looked still: one last look at its end
        last = passed.pop()
        key = reader.keyframe(last)
        changed = gate.changed(key.image)
        if changed:
            yield from look_back()
        else:
            stats.keyframes_skipped += len(passed)
        yield Sample(key, changed)


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
    reader = GopReader(path, max_width=SAMPLE_WIDTH)
    info = reader.info
    if info.duration_s <= 0:
        reader.close()
        raise VideoError(f"{path.name}: video has no duration")
    scale = info.width / min(info.width, SAMPLE_WIDTH)
    min_side = MIN_BOX_SIDE * info.width
    # keyframes further apart than this cannot stand for the moments between them
    long_gop_s = max(1.0 / cfg.sample_fps, cfg.max_sample_gap_s)
    gate = MotionGate(cfg.motion_threshold)
    stats = SamplingStats()
    frames = prefetch(sample_frames(reader, cfg, gate, stats, long_gop_s=long_gop_s), PREFETCH)
    wanted = set(cfg.coarse_labels)
    hits: list[tuple[float, list[CoarseBox]]] = []
    samples = static = detected = covered = second_looks = 0
    batch: list[Frame] = []
    error: str | None = None
    skipped_last = False

    def kept(frame: Frame, dets: Sequence[Any]) -> list[CoarseBox]:
        return [
            CoarseBox(
                round(frame.t, 3),
                d.label,
                round(float(d.score), 4),
                [round(float(v) * scale, 1) for v in (d.x1, d.y1, d.x2, d.y2)],
            )
            for d in dets
            if d.label in wanted
            and d.score >= cfg.coarse_conf
            and min(d.x2 - d.x1, d.y2 - d.y1) * scale >= min_side
        ]

    def flush() -> None:
        nonlocal detected, second_looks
        if not batch:
            return
        results = detect_samples(detector, [f.image for f in batch])
        for frame, dets in zip(batch, results, strict=True):
            boxes = kept(frame, dets)
            if not boxes and cfg.preprocess_lane_crop:
                # nothing at the pair's scale: a second look, the lane ahead at twice the scale (costs a call
                # only where nothing was found, so a drive among traffic pays little)
                second_looks += 1
                boxes = kept(frame, detect_samples(detector, [frame.image], lane_crop=True)[0])
            if boxes:
                detected += 1
                hits.append((frame.t, boxes))
        batch.clear()

    try:
        for sample in frames:
            samples += 1
            frame = sample.frame
            if on_sample:
                on_sample(frame.t)
            if not sample.changed:
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
    finally:
        frames.close()  # the decode-ahead thread stops before the file is closed
        reader.close()
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
        sample_mode="keyframes" if stats.longest_gop_s <= long_gop_s else f"{cfg.sample_fps:g}fps",
        samples=samples,
        detected_samples=detected,
        static_samples=static,
        keyframes_skipped=stats.keyframes_skipped,
        lane_looks=second_looks,
        windows=merge_windows(hits, cfg.window_pad_s, info.duration_s),
        error=error,
    )
