"""What a sighting is, from its track: its class from the detector's class scores, its plate from its best reads.

Both are votes over the frames of a track. The class: every label the detector gave the vehicle in a frame
(the int8 YOLO often gives one car both a car box and a truck box) adds its score, and the label with the
largest sum wins; its share of the sum is shown with it. The plate: only the reads whose evidence (size,
sharpness, per-character confidence) comes near the best read's vote (dashcam.vision.plate_evidence).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dashcam.vision.plate_evidence import EvidencedRead, track_plate
from dashcam.vision.plate_text import PlateConsensus
from dashcam.vision.tracking import label_group
from dashcam.vision.types import Detection


def class_scores(kept: list[Detection], found: list[Detection], iou: float = 0.6) -> list[dict[str, float]]:
    """For each kept box, the score of every label the detector gave the same object in this frame: a car
    the int8 YOLO hesitates on comes out as a car box and a truck box, and the one dropped still counts."""
    out = []
    for k in kept:
        scores = {k.label: k.score}
        for d in found:
            if d.label != k.label and label_group(d.label) == label_group(k.label) and d.iou(k) > iou:
                scores[d.label] = max(scores.get(d.label, 0.0), d.score)
        out.append(scores)
    return out


def label_shares(votes: dict[str, float]) -> dict[str, float]:
    """Each class's share of a track's summed class scores, best first."""
    total = sum(votes.values())
    if total <= 0:
        return {}
    return {k: round(v / total, 3) for k, v in sorted(votes.items(), key=lambda kv: -kv[1])}


def sighting_plate(reads: Sequence[Any], confusions: Mapping[str, str] | None = None) -> PlateConsensus:
    """The plate of a sighting from its reads (text, confidence, evidence, char_probs): the vote of the
    best-evidence ones."""
    return track_plate(
        [EvidencedRead(r.text, r.confidence, r.evidence, tuple(r.char_probs)) for r in reads],
        confusions=confusions,
    )


def add_votes(votes: dict[str, float], more: Mapping[str, float]) -> None:
    """Class scores added to a track's sums."""
    for label, score in more.items():
        votes[label] = votes.get(label, 0.0) + score


def top_label(votes: Mapping[str, float]) -> str | None:
    """The class with the largest summed score, None without votes."""
    return max(votes, key=votes.__getitem__) if votes else None
