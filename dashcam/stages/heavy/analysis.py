"""The heavy pass over one clip: detection + tracking in the selected windows, plates, GPS, web media.

Frames of each preprocess window are decoded at ``detection.heavy_fps``, detected in batches of
``gpu.max_batch_size`` and tracked, so a car in view for 4 seconds becomes one sighting with its
first/last time, a best frame and a box per frame. Plates are read on a few good frames of each
vehicle (and on the whole frame, for plates whose vehicle the detector missed); all reads of one track
are combined into one plate with a confidence and its alternatives. Media (thumbnail, plate crop, a
short H.264 clip) are produced here as bytes; the stage writes them atomically.
"""

from __future__ import annotations

import functools
import logging
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from dashcam.stages.heavy.sighting_join import fill_gaps, fold, join_dropouts
from dashcam.stages.heavy.votes import add_votes, class_scores, sighting_plate, top_label
from dashcam.video.decode import Frame, VideoError, iter_frames, prefetch
from dashcam.vision.boxes import at_frame_edge
from dashcam.vision.plate_evidence import evidence, sharpness
from dashcam.vision.reid import SignatureSum, signature
from dashcam.vision.tracking import ByteTracker, Track, label_group
from dashcam.vision.types import Detection

log = logging.getLogger(__name__)

VEHICLES = {"car", "truck", "bus", "motorcycle"}
KEEP_LABELS = VEHICLES | {"person", "bicycle"}
PLATE_LABEL = "plate"
# Scene cuts, from the mean grey-level change (0-255) of a 32x18 thumbnail between processed frames.
# Driving at 10 fps changes it steadily (highway test clip: 7-11, a city clip 2-5); a cut jumps: between
# unrelated photos 27-80, between two similar ones ~9 after a run of ~3. A cut is a change over SCENE_CUT,
# or over SCENE_CUT_MIN and SCENE_CUT_JUMP times the typical change of the frames before it.
SCENE_CUT = 25.0
SCENE_CUT_MIN = 8.0
SCENE_CUT_JUMP = 2.5
DECODE_AHEAD = 3  # frames decoded by a thread while the detector works on the current ones (at least)
DECODE_NICE_CPU = 10  # the decode-ahead thread's niceness over the detector's on a CPU (decode_setup)
# a track's plate is read until SETTLED_READS reads in a row agree at SETTLED_CONFIDENCE or better; while
# the plate still grows in the frame (by PLATE_GROWING over those reads: an approaching car), only
# agreement on evidence (confidence scaled down for a small or blurred plate) of SETTLED_EVIDENCE settles
# it: far, blurred agreement (S read as 5 three times) would otherwise end the reading before the sharp view
SETTLED_READS = 3
SETTLED_CONFIDENCE = 0.8
SETTLED_EVIDENCE = 0.8
PLATE_GROWING = 1.15
MIN_VEHICLE_HEIGHT = 40  # px: smaller vehicles are too far for a plate read
CLIP_FPS_MAX = 15.0
CLIP_WIDTH = 640
THUMB_SIZE = 320
CLIP_MARGIN_S = 1.0
CLIP_MAX_S = 20.0
# an unseen track moves on at its speed for TRACK_COAST_S, then stays put; it ends after TRACK_KEEP_S (a
# longer dropout is bridged by joining the tracks, dashcam.stages.heavy.track_join)
TRACK_COAST_S = 0.5
TRACK_KEEP_S = 1.5
FILL_GAP_S = 1.5  # a vehicle lost for up to this long between two boxes is drawn between them


class PlateReadLike(Protocol):
    text: str
    raw_text: str
    confidence: float
    box: tuple[float, float, float, float]


@dataclass
class PlateObservation:
    t: float
    text: str
    raw_text: str
    confidence: float
    box: list[float]
    crop_jpeg: bytes | None = None
    evidence: float = 0.0  # confidence scaled by the plate's size and sharpness in this frame
    char_probs: tuple[Any, ...] = ()  # per character of ``text``: plate character -> probability
    at_edge: bool = False  # the box reaches the frame's edge: the plate may run on out of it


@dataclass
class SightingOut:
    track_id: int
    label: str
    score: float
    first_s: float
    last_s: float
    best_s: float
    best_box: list[float]
    boxes: list[list[float]]
    reads: list[PlateObservation] = field(default_factory=list)
    class_votes: dict[str, float] = field(default_factory=dict)  # confidence-weighted class scores summed
    thumbnail_jpeg: bytes | None = None
    clip_frames: list[tuple[float, bytes]] = field(default_factory=list)  # (t, jpeg) for the short clip
    signature: list[float] | None = None  # colour signature (dashcam.vision.reid)
    parts: list[list[float]] = field(default_factory=list)  # [first_s, last_s] of each track joined in

    @property
    def merged_from(self) -> int:
        return max(1, len(self.parts))


@dataclass
class HeavyOutput:
    sightings: list[SightingOut]
    frames: int
    windows: int
    error: str | None
    timings: dict[str, float]
    # the first and last frames looked at: [t, 32x18 grey thumbnail as ints], for telling whether the next
    # file of the camera goes on from this one (dashcam.stages.heavy.links)
    edges: dict[str, Any] = field(default_factory=dict)


def _crop(img: np.ndarray, box: Sequence[float], margin: float = 0.15) -> np.ndarray:
    h, w = img.shape[:2]
    x1, y1, x2, y2 = box
    mx, my = (x2 - x1) * margin, (y2 - y1) * margin
    xa, ya = max(0, int(x1 - mx)), max(0, int(y1 - my))
    xb, yb = min(w, int(x2 + mx)), min(h, int(y2 + my))
    return img[ya:yb, xa:xb] if xb > xa and yb > ya else img[0:1, 0:1]


def _jpeg(img: np.ndarray, max_side: int | None = None, quality: int = 85) -> bytes:
    if max_side and max(img.shape[:2]) > max_side:
        s = max_side / max(img.shape[:2])
        img = cv2.resize(
            img, (max(1, int(img.shape[1] * s)), max(1, int(img.shape[0] * s))), interpolation=cv2.INTER_AREA
        )
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


class _TrackState:
    """Per-track bookkeeping while the window is decoded."""

    def __init__(self) -> None:
        self.best_quality = -1.0
        self.thumbnail: bytes | None = None
        self.reads: list[PlateObservation] = []
        self.frames_seen = 0
        self.class_votes: dict[str, float] = {}

    @property
    def settled(self) -> bool:
        """Three reads in a row agree, each confidently, and the plate is not about to be seen better: more
        reads of it would not change it. Reads of a plate cut by the frame's edge never settle it: the car
        is coming in or leaving at the side, and its plate whole is the one to read."""
        last = self.reads[-SETTLED_READS:]
        if (
            len(last) < SETTLED_READS
            or len({r.text for r in last}) != 1
            or any(r.confidence < SETTLED_CONFIDENCE or r.at_edge for r in last)
        ):
            return False
        growing = _height(last[-1].box) > _height(last[0].box) * PLATE_GROWING
        return not growing or all(r.evidence >= SETTLED_EVIDENCE for r in last)


def _height(box: Sequence[float]) -> float:
    return float(box[3] - box[1])


def _quality(box: Sequence[float], score: float) -> float:
    return score * float(np.sqrt(max(1.0, (box[2] - box[0]) * (box[3] - box[1]))))


def _one_box_per_object(dets: list[Detection], iou: float = 0.6) -> list[Detection]:
    """Detectors suppress overlaps per class only: one van may come out as both a car and a truck box, and
    the tracker would start a second track on it. Of two boxes of different labels in the same group that
    cover the same area, keep the more confident. A smaller box inside a bigger one is kept: that is a car
    in front of a truck, not the same vehicle."""
    kept: list[Detection] = []
    for d in sorted(dets, key=lambda d: -d.score):
        if not any(
            k.label != d.label and label_group(k.label) == label_group(d.label) and d.iou(k) > iou
            for k in kept
        ):
            kept.append(d)
    return kept


def _look(img: np.ndarray) -> np.ndarray:
    """A 32x18 grey thumbnail: enough to tell a scene cut from motion."""
    small = cv2.resize(img[::8, ::8], (32, 18), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(small, cv2.COLOR_BGR2GRAY).astype(np.float32)


class _Window:
    """Detection, tracking and plate reading over the frames of one window."""

    def __init__(
        self,
        *,
        fps: float,
        conf: float,
        detect: Any,
        read_plates: Any,
        reads_per_track: int,
        every: int,
        timings: dict[str, float],
        low_conf: float | None = None,
        start_conf: float | None = None,
    ):
        # a track must last ~0.3 s: shorter ones are flicker, not a passing car
        min_points = max(2, round(fps * 0.3))
        self.tracker = ByteTracker(
            max_misses=max(3, round(fps * TRACK_KEEP_S)),
            coast=max(1, round(fps * TRACK_COAST_S)),
            high=conf,
            low=max(0.1, conf * 0.4) if low_conf is None else low_conf,
            start=start_conf,
            min_points=min_points,
        )
        self.plate_tracker = ByteTracker(max_misses=max(3, int(fps)), high=0.3, low=0.1)
        self.states: dict[int, _TrackState] = {}
        self.plate_states: dict[int, _TrackState] = {}
        self.detect, self.read_plates = detect, read_plates
        self.reads_per_track, self.every = reads_per_track, every
        self.timings = timings
        self.batch: list[tuple[int, float, np.ndarray]] = []
        self.frames = 0
        self.last_look: np.ndarray | None = None
        self.changes: deque[float] = deque(maxlen=8)
        self.looks: dict[int, SignatureSum] = {}  # track id -> its colour signature
        self.cuts: list[float] = []  # times of scene cuts: no track is joined across one
        self.first_look: tuple[float, np.ndarray] | None = None

    def add(self, index: int, t: float, img: np.ndarray, batch_size: int) -> None:
        self.batch.append((index, t, img))
        if len(self.batch) >= batch_size:
            self.flush()

    def flush(self) -> None:
        if not self.batch:
            return
        t0 = time.perf_counter()
        results = self.detect([img for _, _, img in self.batch])
        self.timings["detect"] += time.perf_counter() - t0
        for (index, t, img), dets in zip(self.batch, results, strict=True):
            found = [d for d in dets if d.label in KEEP_LABELS and d.score >= self.tracker.low]
            kept = _one_box_per_object(found)
            self._frame(index, t, img, kept, class_scores(kept, found))
        self.batch.clear()

    def _frame(
        self,
        index: int,
        t: float,
        img: np.ndarray,
        dets: list[Detection],
        classes: list[dict[str, float]] | None = None,
    ) -> None:
        look = _look(img)
        if self.last_look is not None and self._is_cut(float(np.abs(look - self.last_look).mean())):
            # a cut (an edited clip, a slideshow, the camera knocked): tracks end here, or one track
            # would carry the plate of one car over to another
            self.tracker.cut()
            self.plate_tracker.cut()
            self.cuts.append(t)
        self.last_look = look
        self.last_t = t
        if self.first_look is None:
            self.first_look = (t, look)
        assigned = self.tracker.update(t, index, dets)
        t1 = time.perf_counter()
        self._signatures(img, index, assigned, dets)
        due: list[tuple[Track, tuple[float, float, float, float]]] = []
        for i, tr in assigned.items():
            d = dets[i]
            st = self.states.setdefault(tr.track_id, _TrackState())
            st.frames_seen += 1
            add_votes(st.class_votes, classes[i] if classes else {d.label: d.score})
            q = _quality(d.xyxy, d.score)
            if q > st.best_quality:
                st.best_quality = q
                st.thumbnail = _jpeg(_crop(img, d.xyxy), THUMB_SIZE)
            # a track whose reads still disagree after its share (an approaching car's plate, unreadable
            # while far) is read again now and then: a confident read, once it comes, outweighs them
            gap = self.every if len(st.reads) < self.reads_per_track else self.every * 4
            if (
                d.label in VEHICLES
                and d.height >= MIN_VEHICLE_HEIGHT
                and not st.settled
                and (st.frames_seen - 1) % gap == 0
            ):
                due.append((tr, d.xyxy))
        self.timings["media"] += time.perf_counter() - t1
        if self.read_plates is not None:
            seen = [(tr, dets[i].xyxy) for i, tr in assigned.items() if dets[i].label in VEHICLES]
            if due:
                self._read(img, t, index, [b for _, b in due], due)
            whole_every = self.every * 4
            if index % whole_every == 0:
                # the whole frame now and then: plates whose vehicle the detector missed. Plates of vehicles
                # read through their crop in this frame, or done with reading, are left alone: a second read
                # at the same time would be dropped, and a settled plate needs no more. Every other time,
                # a frame with no plate at the detector's size is searched tile by tile (far plates).
                now = {id(tr) for tr, _ in due}
                done = [
                    box
                    for tr, box in seen
                    if id(tr) in now
                    or self.states[tr.track_id].settled
                    or len(self.states[tr.track_id].reads) >= self.reads_per_track
                ]
                tiles = index % (whole_every * 2) == 0
                self._read(img, t, index, [], seen, skip_inside=done, tiles=tiles)
        self.frames += 1

    def _signatures(
        self, img: np.ndarray, index: int, assigned: dict[int, Track], dets: list[Detection]
    ) -> None:
        """Add this frame's crop of each vehicle to its track's colour signature (every other frame: the
        colours of a car do not change from one frame to the next)."""
        if index % 2:
            return
        for i, tr in assigned.items():
            if dets[i].label in VEHICLES:
                self.looks.setdefault(tr.track_id, SignatureSum()).add(signature(img, dets[i].xyxy))

    def _is_cut(self, change: float) -> bool:
        typical = float(np.median(self.changes)) if len(self.changes) >= 3 else None
        cut = change > SCENE_CUT or (
            typical is not None and change > SCENE_CUT_MIN and change > SCENE_CUT_JUMP * typical
        )
        if cut:
            self.changes.clear()  # the new scene sets its own pace
        else:
            self.changes.append(change)
        return cut

    def _read(
        self, img: np.ndarray, t: float, index: int, boxes: list[Any], owners: list[Any], **options: Any
    ) -> None:
        """Read plates in ``boxes`` (none: the whole frame); ``options`` go to the reader (the whole-frame
        pass's ``skip_inside`` and ``tiles``)."""
        read = functools.partial(self.read_plates, **options) if options else self.read_plates
        _read(
            img,
            t,
            index,
            boxes,
            owners,
            read,
            self.states,
            self.plate_tracker,
            self.plate_states,
            self.timings,
            self.reads_per_track,
        )

    def sightings(self, clip_buf: list[tuple[float, bytes]]) -> list[SightingOut]:
        out = []
        for trk, sts, label in (
            (self.tracker, self.states, None),
            (self.plate_tracker, self.plate_states, PLATE_LABEL),
        ):
            for tr in trk.tracks():
                out.append(_sighting(tr, sts.get(tr.track_id, _TrackState()), label, clip_buf))
                if label is None and tr.track_id in self.looks:
                    out[-1].signature = self.looks[tr.track_id].mean()
        return out


@dataclass(frozen=True)
class DecodeSetup:
    """How the heavy stage decodes: FFmpeg's decoder threads (0: its choice, frame threads on every core)
    and how much nicer than the detector the decode-ahead thread runs."""

    threads: int = 0
    nice: int = 0


def decode_setup(on_gpu: bool) -> DecodeSetup:
    """On a CPU the detector's threads already fill every core and the decoder runs beside them in its own
    thread: frame threads would only add their cost (~20 % more decoding CPU on a 960x540 H.264 clip), and
    at the same priority the decoder preempts the detector's threads in the middle of a layer, where the
    other one then waits for it. Niced, it takes the gaps the detector leaves and yields when both cores
    are wanted (`bench/heavy.py --decode-nice 0` against the default, one after the other: overhead +32 %
    against +24 %). A GPU waits on decoding, so there it gets every core at full priority."""
    return DecodeSetup() if on_gpu else DecodeSetup(threads=1, nice=DECODE_NICE_CPU)


def share_cores(on_gpu: bool) -> None:
    """On a CPU, OpenCV works in the calling thread: its own thread pool (resizes, colour conversions) would
    only compete with the detector's threads for the same cores. One thread converts a 960x540 frame for
    half the CPU of two (41 vs 85 ms over 89 frames). Process-wide: it is set where a stage decides."""
    if not on_gpu:
        cv2.setNumThreads(1)


def process_clip(
    path: str | Path,
    windows: Sequence[tuple[float, float]],
    *,
    detect: Callable[[list[np.ndarray]], list[list[Detection]]],
    read_plates: Callable[..., Sequence[PlateReadLike]] | None,
    fps: float,
    batch_size: int = 1,
    conf: float = 0.35,
    plate_reads_per_track: int = 6,
    plate_every: int = 3,
    on_frame: Callable[[float], None] | None = None,
    low_conf: float | None = None,
    start_conf: float | None = None,
    bridge_s: float = 0.0,
    decode: DecodeSetup = DecodeSetup(),
) -> HeavyOutput:
    """Detect, track and read plates in ``windows`` of one clip. A decode error keeps what was done.

    ``read_plates(frame, vehicle_boxes)`` reads plates inside vehicle boxes; the whole-frame pass calls it
    as ``read_plates(frame, [], skip_inside=boxes, tiles=bool)`` (as ``PlateReader.read_image`` takes them).
    ``conf``: a track becomes a sighting once a box this confident joins it; ``low_conf``: weaker boxes
    are ignored (``detect`` must keep boxes down to it); ``start_conf``: a box starts a track from here.
    Tracks of one vehicle broken by a dropout or a gap between windows are joined (:mod:`dashcam.stages.heavy.track_join`);
    windows less than ``bridge_s`` apart are looked at as one (:func:`bridge`). ``decode``: see
    :func:`decode_setup`.
    """
    path = Path(path)
    windows = bridge(windows, bridge_s)
    timings = {"decode": 0.0, "detect": 0.0, "plates": 0.0, "media": 0.0}
    sightings: list[SightingOut] = []
    cuts: list[float] = []
    edges: dict[str, Any] = {}
    decoded: list[float] = []  # times of the frames looked at
    frames_done = 0
    error: str | None = None
    clip_step = 1.0 / min(fps, CLIP_FPS_MAX)
    for w_start, w_end in windows:
        win = _Window(
            fps=fps,
            conf=conf,
            detect=detect,
            read_plates=read_plates,
            reads_per_track=plate_reads_per_track,
            every=plate_every,
            timings=timings,
            low_conf=low_conf,
            start_conf=start_conf,
        )
        clip_buf: list[tuple[float, bytes]] = []
        try:
            t_dec = time.perf_counter()
            # two batches ahead: the next batch is decoded while the detector (the GPU) runs this one
            ahead = max(DECODE_AHEAD, 2 * batch_size)
            frames = prefetch(
                _with_clip_frames(
                    iter_frames(path, start=w_start, end=w_end, fps=fps, threads=decode.threads),
                    w_start,
                    clip_step,
                ),
                ahead,
                nice=decode.nice,
            )
            for fi, (frame, clip_jpeg) in enumerate(frames):
                timings["decode"] += time.perf_counter() - t_dec
                if clip_jpeg is not None:
                    clip_buf.append((frame.t, clip_jpeg))
                win.add(fi, frame.t, frame.image, batch_size)
                decoded.append(round(frame.t, 3))
                if on_frame:
                    on_frame(frame.t)
                t_dec = time.perf_counter()
        except VideoError as exc:
            error = str(exc)
            log.warning("%s", error)
        win.flush()
        frames_done += win.frames
        sightings.extend(win.sightings(clip_buf))
        cuts.extend(win.cuts)
        if win.first_look is not None and win.last_look is not None:
            edges.setdefault("first", [round(win.first_look[0], 3), _thumb(win.first_look[1])])
            edges["last"] = [round(win.last_t, 3), _thumb(win.last_look)]
        if error:
            break
    sightings = join_dropouts(sightings, cuts)
    sightings = _merge_same_plate(sightings)
    decoded.sort()
    for s in sightings:
        fill_gaps(s, decoded, FILL_GAP_S)
    sightings.sort(key=lambda s: (s.first_s, s.best_box))
    for i, s in enumerate(sightings, start=1):
        s.track_id = i
    return HeavyOutput(
        sightings, frames_done, len(windows), error, {k: round(v, 3) for k, v in timings.items()}, edges
    )


def _with_clip_frames(
    frames: Iterator[Frame], start: float, step: float
) -> Iterator[tuple[Frame, bytes | None]]:
    """Each frame with its sighting-clip JPEG (``CLIP_WIDTH`` wide), one every ``step`` seconds from
    ``start``: made in the decoding thread, beside the decoding, not in the detector's way."""
    next_t = start
    try:
        for frame in frames:
            jpeg = None
            if frame.t + 1e-6 >= next_t:
                h, w = frame.image.shape[:2]
                size = (CLIP_WIDTH, int(h * CLIP_WIDTH / w) // 2 * 2)
                jpeg = _jpeg(cv2.resize(frame.image, size, interpolation=cv2.INTER_LINEAR), quality=80)
                next_t = frame.t + step * 0.999
            yield frame, jpeg
    finally:
        if isinstance(frames, Generator):  # the decoder's file closed now, not when collected
            frames.close()


def bridge(windows: Sequence[tuple[float, float]], gap_s: float) -> list[tuple[float, float]]:
    """``windows`` with those less than ``gap_s`` apart made one. The cheap pass samples a frame or two a
    second and its detector loses a car for seconds at a time as the heavy one does; a gap that short
    between two windows is most often the same vehicles still in view. Looking at it costs its frames,
    and gives one track with boxes all the way instead of two parts joined over a blank."""
    out: list[tuple[float, float]] = []
    for start, end in sorted(windows):
        if out and start - out[-1][1] < gap_s:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _thumb(look: np.ndarray) -> list[int]:
    return [int(v) for v in np.clip(np.round(look), 0, 255).ravel()]


def seam_is_cut(last: Sequence[int], first: Sequence[int]) -> bool:
    """Whether two grey thumbnails (``HeavyOutput.edges``) differ as a scene cut does."""
    if len(last) != len(first) or not len(last):
        return True
    return float(np.abs(np.asarray(last, float) - np.asarray(first, float)).mean()) > SCENE_CUT


def _read(
    img: np.ndarray,
    t: float,
    index: int,
    boxes: list[tuple[float, float, float, float]],
    owners: list[tuple[Track, tuple[float, float, float, float]]],
    read_plates: Callable[[np.ndarray, list[tuple[float, float, float, float]]], Sequence[PlateReadLike]],
    states: dict[int, _TrackState],
    plate_tracker: ByteTracker,
    plate_states: dict[int, _TrackState],
    timings: dict[str, float],
    max_reads: int,
) -> None:
    """Read plates (inside ``boxes``, or the whole frame); each read goes to the vehicle holding it, or
    to a plate-only track when no vehicle does (a dedicated-LPR fallback)."""
    t0 = time.perf_counter()
    reads = read_plates(img, boxes)
    timings["plates"] += time.perf_counter() - t0
    orphans: list[tuple[Detection, PlateObservation]] = []
    for r in reads:
        cx, cy = (r.box[0] + r.box[2]) / 2, (r.box[1] + r.box[3]) / 2
        # the plate belongs to the smallest vehicle box around it (a bigger one may hold two vehicles)
        holders = [(tr, b) for tr, b in owners if b[0] <= cx <= b[2] and b[1] <= cy <= b[3]]
        owner = min(holders, key=lambda h: (h[1][2] - h[1][0]) * (h[1][3] - h[1][1]))[0] if holders else None
        sharp = sharpness(img, r.box)
        at_edge = at_frame_edge(r.box, img.shape)
        obs = PlateObservation(
            round(t, 3),
            r.text,
            r.raw_text,
            round(float(r.confidence), 4),
            [round(float(v), 1) for v in r.box],
            evidence=round(evidence(float(r.confidence), r.box[3] - r.box[1], sharp, at_edge=at_edge), 4),
            char_probs=tuple(getattr(r, "char_scores", ())),
            at_edge=at_edge,
        )
        obs.crop_jpeg = _jpeg(_crop(img, r.box, 0.08), 400, 90)
        if owner is not None:
            st = states.setdefault(owner.track_id, _TrackState())
            if all(o.t != obs.t for o in st.reads):
                st.reads.append(obs)
                if len(st.reads) > max_reads * 2:  # keep the best evidence, in time order
                    st.reads.remove(min(st.reads, key=lambda o: o.evidence))
        else:
            orphans.append((Detection(*r.box, score=float(r.confidence), label=PLATE_LABEL, class_id=0), obs))
    if not boxes:
        assigned = plate_tracker.update(t, index, [d for d, _ in orphans])
        for i, tr in assigned.items():
            d, obs = orphans[i]
            st = plate_states.setdefault(tr.track_id, _TrackState())
            st.reads.append(obs)
            q = _quality(d.xyxy, d.score)
            if q > st.best_quality:
                st.best_quality = q
                st.thumbnail = _jpeg(_crop(img, d.xyxy, 1.0), THUMB_SIZE)


def _sighting(
    tr: Track, st: _TrackState, label: str | None, clip_buf: list[tuple[float, bytes]]
) -> SightingOut:
    best = tr.best()
    lo = max(tr.first_t - CLIP_MARGIN_S, best.t - CLIP_MAX_S / 2)
    hi = min(tr.last_t + CLIP_MARGIN_S, lo + CLIP_MAX_S)
    return SightingOut(
        track_id=tr.track_id,
        label=label or _track_label(tr, st),
        score=round(tr.score, 4),
        first_s=round(tr.first_t, 3),
        last_s=round(tr.last_t, 3),
        best_s=round(best.t, 3),
        best_box=[round(v, 1) for v in best.box],
        boxes=[[round(p.t, 3), *(round(v, 1) for v in p.box), round(p.score, 3)] for p in tr.points],
        reads=_one_read_per_frame(st.reads),
        class_votes=dict(st.class_votes) if label is None else {},
        thumbnail_jpeg=st.thumbnail,
        clip_frames=[(t, j) for t, j in clip_buf if lo - 1e-6 <= t <= hi + 1e-6],
    )


def _track_label(tr: Track, st: _TrackState) -> str:
    """The class with the most confidence-weighted score over the track (the tracker's label without any)."""
    return top_label(st.class_votes) or tr.label


def _one_read_per_frame(reads: list[PlateObservation]) -> list[PlateObservation]:
    """At most one read per frame time (the best evidence), in time order."""
    best: dict[float, PlateObservation] = {}
    for r in reads:
        if r.t not in best or r.evidence > best[r.t].evidence:
            best[r.t] = r
    return [best[t] for t in sorted(best)]


def _merge_same_plate(sightings: list[SightingOut], gap_s: float = 1.0) -> list[SightingOut]:
    """One vehicle split into two tracks (occlusion, a label flip) shows the same plate at the same time:
    fold the shorter track into the longer one."""

    def plate(s: SightingOut) -> str | None:
        return sighting_plate(s.reads).text or None if s.reads else None

    out: list[SightingOut] = []
    for s in sorted(sightings, key=lambda s: -(s.last_s - s.first_s)):
        p = plate(s)
        host = next(
            (
                o
                for o in out
                if p is not None
                and plate(o) == p
                and s.first_s <= o.last_s + gap_s
                and o.first_s <= s.last_s + gap_s
            ),
            None,
        )
        if host is None:
            out.append(s)
            continue
        fold(host, s)
    return out


def _merge_classes(host: SightingOut, other: SightingOut) -> None:
    """The class votes of a track folded into another's; the label follows the summed votes."""
    add_votes(host.class_votes, other.class_votes)
    if host.label != PLATE_LABEL:
        host.label = top_label(host.class_votes) or host.label


def encode_clip(frames: list[tuple[float, bytes]], path: Path) -> int:
    """Encode buffered JPEG frames into a short browser-playable MP4."""
    from dashcam.video.encode import write_mp4

    if len(frames) < 2:
        return 0
    span = frames[-1][0] - frames[0][0]
    fps = max(1.0, min(CLIP_FPS_MAX, (len(frames) - 1) / span if span > 0 else CLIP_FPS_MAX))
    images = (cv2.imdecode(np.frombuffer(j, np.uint8), cv2.IMREAD_COLOR) for _, j in frames)
    return write_mp4(path, images, fps=round(fps, 3), crf=28, gop=int(fps * 2))


def describe(out: HeavyOutput) -> dict[str, Any]:
    return {
        "sightings": len(out.sightings),
        "plates": sum(1 for s in out.sightings if s.reads),
        "frames": out.frames,
        "windows": out.windows,
        "error": out.error,
        "timings": out.timings,
    }
