"""Licence plates in a frame: detect (in vehicle boxes, on the whole frame, zoomed), pre-process, read, vote."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from dashcam.vision.boxes import at_frame_edge, iou, nms
from dashcam.vision.config import (
    DetectorConfig,
    EasyOcrConfig,
    OnnxDetectorConfig,
    PlateOnnxOcrConfig,
    RapidOcrConfig,
    TesseractOcrConfig,
    VisionConfig,
)
from dashcam.vision.detectors import Detector, build_detector
from dashcam.vision.ocr.base import OcrBackend
from dashcam.vision.ocr.registry import build_ocrs
from dashcam.vision.plate_line import CharLine, cut_to_line, find_char_line
from dashcam.vision.plate_marks import drop_leading_mark, without_eu_band
from dashcam.vision.plate_text import PlateConsensus, PlateRules, consensus, correct_format, normalise_map
from dashcam.vision.types import OcrResult

log = logging.getLogger(__name__)

Box = tuple[float, float, float, float]
OcrChoice = RapidOcrConfig | EasyOcrConfig | TesseractOcrConfig | PlateOnnxOcrConfig


@dataclass(frozen=True)
class PlateRead:
    """One plate found in a frame: normalised text, what the OCR returned, confidence, box, detector score."""

    text: str
    raw_text: str
    confidence: float
    box: Box
    det_score: float
    alternatives: tuple[str, ...] = ()
    country: str | None = None
    # the vote's per-character probabilities, one mapping per character of ``text`` (empty without them)
    char_scores: tuple[Mapping[str, float], ...] = dataclasses.field(default=(), compare=False)
    # the box reaches the frame's edge: the plate may run on out of the frame, its text be only a part
    at_edge: bool = False

    @property
    def score(self) -> float:
        """Ranking score of a read: detection and reading both count."""
        return self.det_score * self.confidence


@dataclass(frozen=True)
class PlateReaderOptions:
    """How hard the reader looks: detection passes, crop variants and limits."""

    vehicle_margin: float = 0.08
    candidate_conf: float = 0.05
    zoom_candidates: int = 3
    zoom_factor: float = 4.0
    zoom_min_size: int = 160
    tile_fallback: bool = True
    # False: with vehicle boxes given, only look inside them (video: the full frame is scanned separately)
    full_frame_with_vehicles: bool = True
    max_plates: int = 4
    nms_iou: float = 0.3
    ocr_height: int = 48
    # Two crops cut to the plate's character line (found from its characters, levelled), one plain and one
    # with local contrast, and one fixed band of the box, for boxes whose line is misfound. On OpenALPR's
    # photos us 0.838 / eu 0.963 exact, against 0.788 / 0.963 for the five fixed bands before (band,
    # band_narrow, band_clahe, band_sharp, band_trim): better on both halves of the us photos, eu one photo
    # up on one half and one down on the other. Five line variants (adding line_sharp, line_trim) did no
    # better (docs/BENCHMARKS.md).
    variants: tuple[str, ...] = ("line", "line_clahe", "band")
    # When no box gives a plate, the frame is searched again in tiles of this many pixels (plates 40-80 px
    # wide that the detector misses at coarser scales); None: never. Chosen on the development half of the us
    # photos (+1 exact), confirmed on the held-out half (+1); eu unchanged.
    unread_tiles: int | None = 240


def _centre_in(box: Box, areas: Sequence[Box]) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return any(a[0] <= cx <= a[2] and a[1] <= cy <= a[3] for a in areas)


def _nms(boxes: list[tuple[Box, float]], iou_threshold: float) -> list[tuple[Box, float]]:
    """Non-maximum suppression of (box, score) pairs, best first."""
    if not boxes:
        return []
    keep = nms(
        np.array([b for b, _ in boxes], dtype=np.float64),
        np.array([s for _, s in boxes]),
        iou_threshold,
        len(boxes),
    )
    return [boxes[i] for i in keep]


def _window(
    frame_shape: tuple[int, ...], cx: float, cy: float, w: float, h: float
) -> tuple[int, int, int, int]:
    """A w x h window centred on (cx, cy), shifted to lie inside the frame as far as it can."""
    fh, fw = frame_shape[:2]
    w, h = min(w, fw), min(h, fh)
    x1 = int(round(min(max(0.0, cx - w / 2), fw - w)))
    y1 = int(round(min(max(0.0, cy - h / 2), fh - h)))
    return x1, y1, int(round(x1 + w)), int(round(y1 + h))


def _tiles(frame_shape: tuple[int, ...], size: int) -> list[tuple[int, int, int, int]]:
    """Square tiles of ``size`` covering the frame with about a quarter of overlap."""
    fh, fw = frame_shape[:2]

    def starts(total: int) -> list[int]:
        if total <= size:
            return [0]
        n = int(np.ceil((total - size * 0.25) / (size * 0.75)))
        return [int(v) for v in np.linspace(0, total - size, max(n, 2))]

    return [(x, y, min(fw, x + size), min(fh, y + size)) for y in starts(fh) for x in starts(fw)]


# Where a crop cut to the character line falls back to when no line is found: the fixed band of its kind.
LINE_FALLBACK = {
    "line": "band",
    "line_clahe": "band_clahe",
    "line_sharp": "band_sharp",
    "line_trim": "band_trim",
}
# Line variants cut with the marks between the characters (stickers, emblems) left as they are: the mark test
# is a guess, so of the reader's two line crops one is painted and one not, and the vote decides. On
# OpenALPR's photos: us 0.838 -> 0.847 (SH0LR7X and FB80R4T read right; 5TZA419, whose missed Z was taken
# for a mark, kept), eu 0.963 -> 0.972 (TS5260AK, the coat of arms read as 5); painted in both crops, us
# 0.842 (5TZA419 lost).
UNPAINTED = frozenset({"line_clahe"})
# A line whose outer character lies within this many pixels of the crop's side runs on past the box; the box is
# widened by this many of its characters' heights there (a US plate's seven characters are ~4.5 heights long).
# On OpenALPR's photos: us 0.851 -> 0.865 (1366026, 1AMW240, UJ3V0J; 13 boxes widened over both sets, none read
# worse); 1.0 / 1.5 / 2.5 / 3.0 heights: 0.851 / 0.860 / 0.865 / 0.865, eu 0.972 with each.
LINE_EDGE_PX = 1.0
LINE_REACH = 2.0
LINE_ROOM = (0.03, 0.02)  # room around the box the line is looked for in, shares of its width and height
LINE_MARGIN = 0.18  # room above and below the characters, a share of their height (0.1-0.3 read alike)
TRIM = 0.04  # share of the box's width the *_trim variants leave off each side


class PlateCrops:
    """Pre-processed crops of one plate box that the OCR reads (variants voted on afterwards)."""

    def __init__(self, ocr_height: int) -> None:
        self.ocr_height = ocr_height
        self._clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(4, 4))

    def variants(self, names: Sequence[str], frame: np.ndarray, box: Box) -> list[np.ndarray]:
        """The named pre-processings of one plate box; the character line is looked for once for all of them
        (found or not: a box without one falls back to the fixed bands without a second search)."""
        painted = plain = None
        if any(n in LINE_FALLBACK for n in names):
            painted, plain = self.line_crops(frame, box)
        return [self._variant(n, frame, box, plain if n in UNPAINTED else painted) for n in names]

    def variant(self, name: str, frame: np.ndarray, box: Box) -> np.ndarray:
        """One named pre-processing of a plate box."""
        return self.variants((name,), frame, box)[0]

    def line_crop(self, frame: np.ndarray, box: Box) -> np.ndarray | None:
        """The box (and a little room) levelled and cut to its character line, marks between the characters
        painted over; None where no line is found."""
        return self.line_crops(frame, box)[0]

    def line_crops(self, frame: np.ndarray, box: Box) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The line crop with its marks painted over and as it is (one array where there are none)."""
        base = without_eu_band(self._cut(frame, box, *LINE_ROOM))
        found = find_char_line(base)
        if found is None:
            return None, None
        base, found = self._reach(frame, box, base, found) or (base, found)
        painted = cut_to_line(base, found, LINE_MARGIN)
        return painted, cut_to_line(base, found, LINE_MARGIN, paint_marks=False) if found.marks else painted

    def _reach(
        self, frame: np.ndarray, box: Box, base: np.ndarray, found: CharLine
    ) -> tuple[np.ndarray, CharLine] | None:
        """Where the line runs into a side of the crop, the box cut it short (OpenALPR's 1366026 was boxed
        from its second 6): the box widened by LINE_REACH line heights on that side (within the frame) and
        its line found again; None where that finds fewer characters or the crop's side is the frame's."""
        x1, y1, x2, y2 = box
        room = LINE_ROOM[0] * (x2 - x1)  # pixels; the crop already reaches the frame's edge beyond them
        left = found.left <= LINE_EDGE_PX and x1 - room > 0
        right = found.right >= base.shape[1] - LINE_EDGE_PX and x2 + room < frame.shape[1]
        if not (left or right):
            return None
        reach = LINE_REACH * found.height
        wide = (x1 - reach if left else x1, y1, x2 + reach if right else x2, y2)
        # as many pixels of room as the box had
        again = without_eu_band(self._cut(frame, wide, room / (wide[2] - wide[0]), LINE_ROOM[1]))
        line = find_char_line(again)
        return (again, line) if line is not None and line.count >= found.count else None

    @staticmethod
    def _cut(frame: np.ndarray, box: Box, mx: float, my: float) -> np.ndarray:
        """The box grown by mx/my of its width/height (negative shrinks), clipped to the frame."""
        x1, y1, x2, y2 = box
        w, h = x2 - x1, y2 - y1
        fh, fw = frame.shape[:2]
        ix1, iy1 = int(max(0, x1 - mx * w)), int(max(0, y1 - my * h))
        ix2, iy2 = int(min(fw, x2 + mx * w)), int(min(fh, y2 + my * h))
        return frame[iy1 : max(iy2, iy1 + 1), ix1 : max(ix2, ix1 + 1)]

    def _band(self, frame: np.ndarray, box: Box, mx: float, my: float) -> np.ndarray:
        """A cut to the character band (``my`` < 0), without an EU band at its left edge: the recogniser
        would read its stars and country code as a leading character."""
        return without_eu_band(self._cut(frame, box, mx, my))

    def _upscale(self, crop: np.ndarray, height: int, lanczos: bool = False) -> np.ndarray:
        """Small plates upscaled (cubic) to the height the recogniser works at; big ones left alone."""
        h = crop.shape[0]
        if h >= height:
            return crop
        f = height / h
        interp = cv2.INTER_LANCZOS4 if lanczos else cv2.INTER_CUBIC
        return cv2.resize(crop, None, fx=f, fy=f, interpolation=interp)

    @staticmethod
    def _sharpen(crop: np.ndarray) -> np.ndarray:
        blur = cv2.GaussianBlur(crop, (0, 0), 2.0)
        return cv2.addWeighted(crop, 1.6, blur, -0.6, 0)

    def _clahe_bgr(self, crop: np.ndarray) -> np.ndarray:
        gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
        return cv2.cvtColor(self._clahe.apply(gray), cv2.COLOR_GRAY2BGR)

    def _variant(self, name: str, frame: np.ndarray, box: Box, line: np.ndarray | None) -> np.ndarray:
        """One named pre-processing of a plate box, given its line crop (None: no line was found)."""
        if name in LINE_FALLBACK:
            if line is None:  # no row of characters found: the fixed band of the same kind
                return self._variant(LINE_FALLBACK[name], frame, box, None)
            return self._on_line(name, line)
        if name == "tight":  # the detector's box as is
            return self._cut(frame, box, 0.0, 0.0)
        if name == "band":  # the character band: drops state names and slogans above and below
            return self._upscale(self._band(frame, box, 0.03, -0.15), self.ocr_height)
        if name == "band_narrow":  # a milder cut, for plates whose characters fill the box
            return self._upscale(self._band(frame, box, 0.0, -0.08), self.ocr_height)
        if name == "band_clahe":  # local contrast for shadowed or washed-out plates
            return self._clahe_bgr(self._upscale(self._band(frame, box, 0.03, -0.12), self.ocr_height + 16))
        if name == "wide":  # room around characters the box clipped
            return self._upscale(self._cut(frame, box, 0.06, 0.12), self.ocr_height + 16)
        if name == "band_sharp":  # Lanczos upscale + unsharp mask: blurred far plates
            return self._sharpen(
                self._upscale(self._band(frame, box, 0.03, -0.15), self.ocr_height + 16, True)
            )
        if name == "band_tall":  # a looser vertical cut, for boxes that clip the characters' tops or feet
            return self._upscale(self._band(frame, box, 0.02, -0.04), self.ocr_height)
        if name == "band_trim":  # the band without the box's side edges (bolts, frame, country strip)
            return self._upscale(self._band(frame, box, -TRIM, -0.15), self.ocr_height)
        # For plate recognisers (fixed input size, trained on whole plate boxes): no cut, no upscale.
        if name == "plate":  # the box with a small margin, as plate detectors' training crops have
            return self._cut(frame, box, 0.03, 0.06)
        if name == "plate_wide":  # more room, for boxes that clip the first or last character
            return self._cut(frame, box, 0.08, 0.12)
        if name == "plate_clahe":  # local contrast for shadowed or washed-out plates
            return self._clahe_bgr(self._cut(frame, box, 0.03, 0.06))
        raise ValueError(f"unknown plate crop variant {name!r}")

    def _on_line(self, name: str, line: np.ndarray) -> np.ndarray:
        """A variant of the character-line crop: as is, local contrast, sharpened, or without its sides."""
        if name == "line":
            return self._upscale(line, self.ocr_height)
        if name == "line_clahe":
            return self._clahe_bgr(self._upscale(line, self.ocr_height + 16))
        if name == "line_sharp":
            return self._sharpen(self._upscale(line, self.ocr_height + 16, True))
        # line_trim: TRIM of the box's width off each side (the line crop has 3 % of room on each)
        w = line.shape[1]
        cut = int(TRIM * w / 1.06)
        return self._upscale(line[:, cut : max(w - cut, cut + 1)], self.ocr_height)


class PlateReader:
    """Plate detector + OCR backend + text rules: ``read_image(frame)`` gives the plates of a frame."""

    def __init__(
        self,
        detector: Detector,
        ocr: OcrBackend | Sequence[OcrBackend],
        rules: PlateRules | None = None,
        options: PlateReaderOptions | None = None,
        *,
        min_score: float = 0.25,
    ) -> None:
        self.detector = detector
        self.ocrs: list[OcrBackend] = [ocr] if isinstance(ocr, OcrBackend) else list(ocr)
        if not self.ocrs:
            raise ValueError("a plate reader needs at least one OCR backend")
        self.rules = rules or PlateRules()
        self.options = options or PlateReaderOptions()
        self.min_score = min_score
        self.crops = PlateCrops(self.options.ocr_height)

    @property
    def ocr(self) -> OcrBackend:
        """The first recogniser (the only one unless ``vision.ocr`` lists several)."""
        return self.ocrs[0]

    def variants_of(self, ocr: OcrBackend) -> tuple[str, ...]:
        """The crops a recogniser reads: a plate recogniser's own (whole boxes), else the reader's band cuts."""
        return ocr.crop_variants or self.options.variants

    @classmethod
    def from_config(
        cls,
        detector_cfg: DetectorConfig | None = None,
        ocr_cfg: OcrChoice | Sequence[OcrChoice] | None = None,
        rules: PlateRules | None = None,
        options: PlateReaderOptions | None = None,
        *,
        models_dir: str | Path | None = None,
    ) -> PlateReader:
        """A reader built from the vision config's plate detector and OCR sections."""
        detector_cfg = detector_cfg or OnnxDetectorConfig()
        options = options or PlateReaderOptions()
        # Weak full-frame boxes are where zooming in pays: the detector keeps them, the reader filters.
        low = detector_cfg.model_copy(update={"conf": min(detector_cfg.conf, options.candidate_conf)})
        return cls(
            build_detector(low, models_dir=models_dir),
            build_ocrs(ocr_cfg or RapidOcrConfig(), models_dir=models_dir),
            rules,
            options,
            min_score=detector_cfg.conf,
        )

    @classmethod
    def from_vision(
        cls, vision: VisionConfig, rules: PlateRules | None = None, *, models_dir: str | Path | None = None
    ) -> PlateReader:
        """A reader for the ``vision`` section of the global config."""
        return cls.from_config(vision.plate_detector, vision.ocr, rules, models_dir=models_dir)

    def load(self) -> None:
        """Load the detector and the OCR backends (all warm up)."""
        self.detector.load()
        for ocr in self.ocrs:
            ocr.load()

    def _detect_in(
        self, frame: np.ndarray, regions: Sequence[tuple[int, int, int, int]]
    ) -> list[tuple[Box, float]]:
        """Plate boxes found in sub-regions of a frame, in frame coordinates."""
        crops = [frame[y1:y2, x1:x2] for x1, y1, x2, y2 in regions if x2 - x1 > 8 and y2 - y1 > 8]
        offsets = [(x1, y1) for x1, y1, x2, y2 in regions if x2 - x1 > 8 and y2 - y1 > 8]
        if not crops:
            return []
        out: list[tuple[Box, float]] = []
        for (ox, oy), dets in zip(offsets, self.detector.detect(crops), strict=True):
            out += [((d.x1 + ox, d.y1 + oy, d.x2 + ox, d.y2 + oy), d.score) for d in dets]
        return out

    def detect_plates(
        self,
        frame: np.ndarray,
        vehicle_boxes: Sequence[Box] | None = None,
        *,
        skip_inside: Sequence[Box] = (),
        tiles: bool | None = None,
    ) -> list[tuple[Box, float]]:
        """Plate boxes and scores: vehicle crops + whole frame, zoom on the best candidates, tiles if none.

        Plates whose centre lies in one of ``skip_inside`` are neither zoomed on nor returned (video: their
        vehicle is read through its own crop already); they still count as "something found" for the tiles.
        ``tiles`` overrides the options' tile fallback for this frame.
        """
        opt = self.options
        fh, fw = frame.shape[:2]
        regions = [] if vehicle_boxes and not opt.full_frame_with_vehicles else [(0, 0, fw, fh)]
        for x1, y1, x2, y2 in vehicle_boxes or ():
            mx, my = opt.vehicle_margin * (x2 - x1), opt.vehicle_margin * (y2 - y1)
            regions.append(
                (int(max(0, x1 - mx)), int(max(0, y1 - my)), int(min(fw, x2 + mx)), int(min(fh, y2 + my)))
            )
        candidates = _nms(self._detect_in(frame, regions), opt.nms_iou)
        found = list(candidates)
        candidates = [c for c in candidates if not _centre_in(c[0], skip_inside)]
        # The detector sees the frame at 320 px: a far plate is a few pixels there. A window around each
        # candidate gives it the plate at several times the scale, and a tighter box.
        zoom = []
        for (x1, y1, x2, y2), _ in candidates[: opt.zoom_candidates]:
            side = max(opt.zoom_factor * (x2 - x1), opt.zoom_min_size)
            win = _window(frame.shape, (x1 + x2) / 2, (y1 + y2) / 2, side, side * 0.75)
            if (win[2] - win[0]) * (win[3] - win[1]) < 0.5 * fw * fh:
                zoom.append(win)
        found += self._detect_in(frame, zoom)
        use_tiles = opt.tile_fallback if tiles is None else tiles
        if use_tiles and not any(s >= self.min_score for _, s in found):
            size = max(320, int(min(fh, fw) * 0.6))
            if size < max(fh, fw):
                found += self._detect_in(frame, _tiles(frame.shape, size))
        kept = [
            (b, s)
            for b, s in _nms(found, opt.nms_iou)
            if s >= self.min_score and not _centre_in(b, skip_inside)
        ]
        return kept[: opt.max_plates]

    def read_boxes(self, frame: np.ndarray, boxes: Sequence[tuple[Box, float]]) -> list[PlateRead]:
        """Read each plate box: every crop variant through the OCR, normalised, voted on.

        Best first: with country formats configured, reads that match one come before those that match none
        (a dealer's name on the frame is no plate), then reads of boxes inside the frame before those at its
        edge (a plate cut by the edge reads as part of one: OpenALPR's car22 read 6F1A off a car at the
        photo's edge before the plate in the middle), then by score.
        """
        per_box: list[list[OcrResult]] = [[] for _ in boxes]
        for ocr in self.ocrs:
            variants = self.variants_of(ocr)
            crops = [c for box, _ in boxes for c in self.crops.variants(variants, frame, box)]
            results = ocr.read(crops) if crops else []
            for k in range(len(boxes)):
                per_box[k] += results[k * len(variants) : (k + 1) * len(variants)]
        reads: list[PlateRead] = []
        for (box, det_score), mine in zip(boxes, per_box, strict=True):
            texts = []
            for r in mine:
                text, kept = normalise_map(r.text, self.rules)
                probs = tuple(r.char_probs[i] for i in kept) if len(r.char_probs) == len(r.text) else None
                texts.append((text, r.confidence, r.text, probs))
            good = [(t, c, p) for t, c, _, p in texts if self.rules.length_ok(t)]
            if not good:
                continue
            voted: PlateConsensus = consensus(good, confusions=self.rules.confusions)
            # a mark before the plate read as its first characters: dropped where the formats say so, after
            # the vote (a read with an extra character inside, such as an emblem, must not lose an end one)
            marked, char_scores = drop_leading_mark(voted.text, voted.char_scores or None, self.rules)
            text, country = correct_format(marked, self.rules, char_scores)
            raw = max(texts, key=lambda t: (t[0] == voted.text, t[1]))[2]
            alts = tuple(a for a in (voted.text, *voted.alternatives) if a != text)
            scores = tuple(char_scores) if char_scores and len(char_scores) == len(text) else ()
            edge = at_frame_edge(box, frame.shape)
            reads.append(PlateRead(text, raw, voted.confidence, box, det_score, alts, country, scores, edge))
        unmatched = bool(self.rules.formats)
        return sorted(reads, key=lambda r: (unmatched and r.country is None, r.at_edge, -r.score))

    def read_image(
        self,
        frame: np.ndarray,
        vehicle_boxes: Sequence[Box] | None = None,
        *,
        skip_inside: Sequence[Box] = (),
        tiles: bool | None = None,
    ) -> list[PlateRead]:
        """The plates in one BGR frame, best first; ``vehicle_boxes`` (xyxy) are searched closely, plates
        inside ``skip_inside`` are left unread (see ``detect_plates``)."""
        found = self.detect_plates(frame, vehicle_boxes, skip_inside=skip_inside, tiles=tiles)
        reads = self.read_boxes(frame, found)
        size = self.options.unread_tiles
        if reads or not size or tiles is False or not (self.options.tile_fallback or tiles):
            return reads
        # Nothing read: the boxes were no plates (a grille, a sign) or nothing was found. Small plates that
        # the detector misses at the frame's or the coarse tiles' scale show up in windows a few times their
        # width: search the frame again in small tiles, leaving the boxes already read aside.
        again = self._detect_in(frame, _tiles(frame.shape, size))
        fresh = [
            (b, sc)
            for b, sc in _nms(again, self.options.nms_iou)
            if sc >= self.min_score
            and not _centre_in(b, skip_inside)
            and all(iou(b, old) < self.options.nms_iou for old, _ in found)
        ]
        return self.read_boxes(frame, fresh[: self.options.max_plates])

    def read_images(
        self, frames: Sequence[np.ndarray], vehicle_boxes: Sequence[Sequence[Box]] | None = None
    ) -> list[list[PlateRead]]:
        """``read_image`` over several frames."""
        boxes = vehicle_boxes or [()] * len(frames)
        return [self.read_image(f, b) for f, b in zip(frames, boxes, strict=True)]
