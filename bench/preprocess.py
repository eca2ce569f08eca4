"""Preprocess stage vs the full-decode floor (`ffmpeg -f null`) on the same file, in the same run.

    DASHCAM_MODELS_DIR=../shared/models DASHCAM_TESTDATA=../shared/testdata python bench/preprocess.py [--minutes 5]

Prints, per clip: wall time of the cheap pass, the decode floor, their ratio (target <= 0.5: the stage must not
decode what it does not need), and the share of video seconds passed on to the heavy stage.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from _common import ffmpeg_floor, models_dir, synthetic_clip, testdata


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=5.0, help="length of the synthetic 1080p clip")
    args = ap.parse_args()

    from dashcam.config import DetectionSection
    from dashcam.preprocess import preprocess_clip
    from dashcam.vision.config import LiteRTDetectorConfig
    from dashcam.vision.detectors import build_detector

    det = build_detector(LiteRTDetectorConfig(), models_dir=models_dir())
    det.load()
    cfg = DetectionSection()
    clips = [
        ("real: lanes/solidWhiteRight.mp4 (960x540)", testdata() / "video" / "lanes" / "solidWhiteRight.mp4"),
        ("real: highway/test_video.mp4 (1280x720)", testdata() / "video" / "highway" / "test_video.mp4"),
        (f"synthetic {args.minutes:g} min 1920x1080 30 fps", synthetic_clip(args.minutes * 60, (1920, 1080))),
    ]
    # a worker runs many clips: the first call's lazy imports and allocations are not a per-clip cost
    preprocess_clip(
        clips[1][1], detector=det, cfg=cfg, clip_hash="0" * 64, model="bench", config_hash="bench"
    )
    print(f"{'clip':<44} {'stage s':>8} {'floor s':>8} {'ratio':>6} {'passed':>7} {'mode':>10}")
    for name, path in clips:
        floor = min(ffmpeg_floor(Path(path)) for _ in range(2))
        t = time.perf_counter()
        m = preprocess_clip(
            path, detector=det, cfg=cfg, clip_hash="0" * 64, model="bench", config_hash="bench"
        )
        took = time.perf_counter() - t
        share = m.seconds_passed / m.duration_s if m.duration_s else 0.0
        print(f"{name:<44} {took:8.2f} {floor:8.2f} {took / floor:6.2f} {share:7.1%} {m.sample_mode:>10}")


if __name__ == "__main__":
    main()
