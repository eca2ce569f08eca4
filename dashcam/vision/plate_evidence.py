"""How much a plate read from a video frame is worth, and the plate of a track from its best reads.

A video shows a plate many times: far and blurred as a car approaches, then near and sharp. Summing the
reads' confidences lets the many poor frames outvote the few good ones (a blurred S read as 5 eight times
beats one sharp S). Each read gets an *evidence* score from what makes a read trustworthy: its size in the
frame, its sharpness and the recogniser's own per-character confidence, less for a box cut by the frame's
edge. Only the reads whose evidence comes near the best one's vote (:func:`track_plate`); the others are kept
as alternatives for search.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from dashcam.vision.plate_text import PlateConsensus, consensus

# Sharpness is measured on the plate box scaled to this height, so that it compares plates of any size.
SHARPNESS_HEIGHT = 24
# Sharpness from which it no longer limits a read: the lower quartile of OpenALPR's still photos (their
# median is 1.63; the same plates blurred with a 2 px Gaussian 0.59, halved in size and scaled back 1.12).
SHARP_FULL = 1.3
# Plate box height (px) from which size no longer limits a read: the recognisers read 48-64 px tall crops,
# upscaled from this and smaller ones lose the strokes that tell S from 5 and D from 0.
SIZE_FULL_PX = 24.0
# A read votes for the track's plate when its evidence is at least this share of the best read's.
EVIDENCE_TIER = 0.75
# A read of a plate box at the frame's edge (a car coming in or leaving at the side, its plate cut by the
# edge and read as a part) counts this share of its evidence: under EVIDENCE_TIER, so that it never votes
# against a read of the whole plate that is about as good, and still gives the plate where it is all there is.
AT_EDGE = 0.5

CharProbs = Sequence[Mapping[str, float]]


def sharpness(img: np.ndarray, box: Sequence[float]) -> float:
    """Contrast-normalised Laplacian energy of the plate box at SHARPNESS_HEIGHT: blur lowers it, size not."""
    h_img, w_img = img.shape[:2]
    x1, y1 = max(0, int(box[0])), max(0, int(box[1]))
    x2, y2 = min(w_img, int(round(box[2]))), min(h_img, int(round(box[3])))
    if x2 - x1 < 4 or y2 - y1 < 4:
        return 0.0
    crop = img[y1:y2, x1:x2]
    grey = (cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop).astype(np.float32)
    h, w = grey.shape
    width = max(8, round(w * SHARPNESS_HEIGHT / h))
    interp = cv2.INTER_AREA if h > SHARPNESS_HEIGHT else cv2.INTER_LINEAR
    sized = cv2.resize(grey, (width, SHARPNESS_HEIGHT), interpolation=interp)
    lap = cv2.Laplacian(sized, cv2.CV_32F)
    return float(lap.std() / (sized.std() + 1.0))


def evidence(confidence: float, height_px: float, sharp: float, *, at_edge: bool = False) -> float:
    """A read's worth, 0..1: the recogniser's confidence, scaled down for a small or blurred plate and for
    one whose box reaches the frame's edge."""
    size = min(1.0, max(0.0, height_px) / SIZE_FULL_PX)
    clear = min(1.0, max(0.0, sharp) / SHARP_FULL)
    return float(confidence) * size * clear * (AT_EDGE if at_edge else 1.0)


@dataclass(frozen=True)
class EvidencedRead:
    """One read of a track's plate: its text, the recogniser's confidence, its evidence, per-character probs."""

    text: str
    confidence: float
    evidence: float
    char_probs: tuple[Mapping[str, float], ...] = field(default=(), compare=False)


def best_reads(reads: Sequence[EvidencedRead], tier: float = EVIDENCE_TIER) -> list[EvidencedRead]:
    """The reads whose evidence is at least ``tier`` of the best one's (best first)."""
    ranked = sorted((r for r in reads if r.text), key=lambda r: -r.evidence)
    if not ranked:
        return []
    floor = ranked[0].evidence * tier
    return [r for r in ranked if r.evidence >= floor]


def track_plate(
    reads: Sequence[EvidencedRead],
    *,
    confusions: Mapping[str, str] | None = None,
    tier: float = EVIDENCE_TIER,
) -> PlateConsensus:
    """The plate of a track: the vote of its best-evidence reads, every other text an alternative.

    A read whose evidence is under ``tier`` of the best one's never votes, however many such reads there
    are: a low-confidence read cannot outvote a high-confidence one. Among the reads that do vote, the
    usual consensus (confidence-weighted, per-character probabilities) decides.
    """
    top = best_reads(reads, tier)
    if not top:
        return PlateConsensus("", 0.0, [])
    voted = consensus([(r.text, r.confidence, r.char_probs or None) for r in top], confusions=confusions)
    ranked: dict[str, float] = {}
    for r in sorted(reads, key=lambda r: -r.evidence):
        if r.text:
            ranked[r.text] = ranked.get(r.text, 0.0) + r.evidence
    alternatives = [t for t, _ in sorted(ranked.items(), key=lambda kv: -kv[1]) if t != voted.text]
    return PlateConsensus(
        voted.text, voted.confidence, alternatives, support=voted.support, char_scores=voted.char_scores
    )
