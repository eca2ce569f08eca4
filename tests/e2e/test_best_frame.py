"""The best frame wins: a drive from `dashcam synth --far-blur` (plates small and soft while far, sharp when
near) through the heavy pass with the real models, and real photos degraded the way video degrades them."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import cv2
import pytest

from dashcam.stages.heavy.record import VIDEO_VARIANTS, VideoPlateReader
from dashcam.stages.heavy.votes import sighting_plate
from dashcam.synth.photos import video_like
from dashcam.vision.config import OnnxDetectorConfig, RapidOcrConfig, VisionConfig
from dashcam.vision.plate_evidence import EVIDENCE_TIER, EvidencedRead, evidence, sharpness, track_plate
from dashcam.vision.plate_text import PlateRules, consensus
from dashcam.vision.plates import PlateReader, PlateReaderOptions
from tests.support import models_dir, run_dashcam, testdata_file, user_env

pytestmark = pytest.mark.slow
FORMATS = {
    "us": [("US", r"^[A-NP-Z0-9]{2,8}$")],
    "eu": [("SK", r"^[A-Z]{2}[0-9]{3}[A-Z]{2}$"), ("CZ", r"^[0-9][A-Z][0-9A-Z][0-9]{4}$")],
}


@pytest.fixture(scope="module")
def readers() -> tuple[Any, VideoPlateReader]:
    """The heavy stage's vehicle detector and its plate reader (vehicle crops; the whole frame)."""
    from dashcam.vision.defaults import vehicle_detector
    from dashcam.vision.detectors import build_detector

    det = build_detector(vehicle_detector(VisionConfig(), models_dir=models_dir()), models_dir=models_dir())
    det.load()
    reader = VideoPlateReader.load(
        OnnxDetectorConfig(num_threads=2), RapidOcrConfig(), None, models_dir=models_dir()
    )
    return det, reader


def test_a_drive_whose_plates_are_soft_while_far_carries_the_sharp_reads(
    readers: tuple[Any, VideoPlateReader], tmp_path: Path
) -> None:
    from dashcam.stages.heavy import analysis as heavy

    det, reader = readers
    clip = tmp_path / "drive.mp4"
    made = run_dashcam(
        ["synth", str(clip), "--seconds", "16", "--fps", "15", "--size", "1280x720",
         "--plates", "SD05BDS,DB58SSD,BS08DZS", "--far-blur", "1.8", "--seed", "5", "--json"],
        cwd=tmp_path, env=user_env(tmp_path / "home"),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    truth = json.loads((tmp_path / "drive.mp4.truth.json").read_text())
    assert truth["far_blur"] == 1.8
    legible = {p["text"] for p in truth["plates"] if p["ever_legible"]}

    out = heavy.process_clip(
        clip, [(0.0, truth["seconds"])], detect=det.detect, read_plates=reader.read_image, fps=10
    )
    read_plates = {s.track_id: sighting_plate(s.reads).text for s in out.sightings if s.reads}
    assert legible <= set(read_plates.values()), read_plates
    misread = 0
    for s in out.sightings:
        if not s.reads:
            continue
        best = max(s.reads, key=lambda r: r.evidence)
        assert best.text == read_plates[s.track_id]
        # every read of another text was worth less than the tier of the best: it did not vote
        others = [r for r in s.reads if r.text != best.text]
        assert all(r.evidence < EVIDENCE_TIER * best.evidence for r in others), [
            (r.t, r.text, r.evidence) for r in s.reads
        ]
        misread += len(others)
    assert misread >= 1, "the far blur made no read go wrong: the drive does not test the vote"


@pytest.fixture(scope="module")
def plates() -> list[dict[str, str]]:
    gt = testdata_file("plates/groundtruth.csv")
    with gt.open(newline="") as f:
        rows = list(csv.DictReader(f))
    return [{**r, "path": str(gt.parent / r["set"] / r["image"])} for r in rows]


def test_real_photos_degraded_like_video_keep_the_read_of_the_best_frame(
    readers: tuple[Any, VideoPlateReader], plates: list[dict[str, str]]
) -> None:
    """Every 12th photo of each set, shown as a track of four frames: three degraded like video (a third to a
    half of the size, blurred, JPEG 40-50) and the photo itself. The track's plate must be the read of the
    best frame, and reading the degraded frames too must not cost plates against reading the photo alone."""
    crops = readers[1].crops
    reader = PlateReader(crops.detector, crops.ocrs, options=PlateReaderOptions(variants=VIDEO_VARIANTS))
    n = same_as_best = photo_right = track_right = old_right = 0
    for name in ("us", "eu"):
        reader.rules = PlateRules.build(formats=FORMATS[name])
        for row in [r for r in plates if r["set"] == name][::12]:
            img = cv2.imread(row["path"])
            frames = [
                video_like(img, s, b, q) for s, b, q in ((0.35, 1.0, 40), (0.45, 0.8, 45), (0.55, 0.6, 50))
            ]
            reads = []
            for frame in [*frames, img]:
                got = reader.read_image(frame)
                if got:
                    r = got[0]
                    ev = evidence(r.confidence, r.box[3] - r.box[1], sharpness(frame, r.box))
                    reads.append(EvidencedRead(r.text, r.confidence, ev, r.char_scores))
            if not reads:
                continue
            n += 1
            plate = track_plate(reads).text
            best = max(reads, key=lambda r: r.evidence)
            same_as_best += plate == best.text
            photo = reader.read_image(img)
            photo_right += bool(photo) and photo[0].text == row["plate"]
            track_right += plate == row["plate"]
            old_right += consensus([(r.text, r.confidence) for r in reads]).text == row["plate"]
    print(f"\n{n} tracks: plate = best frame's read {same_as_best}; right: photo alone {photo_right}, "
          f"track {track_right} (confidence-summed vote {old_right})")  # fmt: skip
    assert n >= 20
    assert same_as_best == n
    assert track_right >= photo_right - 1
