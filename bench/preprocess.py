"""Preprocess stage vs the full-decode floor (`ffmpeg -f null`) on the same file, in the same run.

    DASHCAM_MODELS_DIR=../shared/models DASHCAM_TESTDATA=../shared/testdata python bench/preprocess.py [--minutes 5]

Prints, per clip: wall time of the cheap pass, the decode floor, their ratio (target <= 0.5: the stage must not
decode what it does not need), the share of video seconds passed on to the heavy stage, and how many keyframes
it decoded. Then the whole command on a still scene: `dashcam run` (a fresh process, start-up included) on two
still 5-minute 1080p clips (a parked camera; a car stopped at lights), against the floor of the same two files
(target <= 0.5).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ffmpeg_floor, models_dir, synthetic_clip, testdata


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=5.0, help="length of the synthetic 1080p clips")
    ap.add_argument(
        "--skip-drive", action="store_true", help="leave out the synthetic drive (slow to render)"
    )
    args = ap.parse_args()

    from dashcam.config import DetectionSection
    from dashcam.stages.preprocess.analysis import preprocess_clip
    from dashcam.vision.config import LiteRTDetectorConfig
    from dashcam.vision.detectors import build_detector

    det = build_detector(LiteRTDetectorConfig(), models_dir=models_dir())
    det.load()
    cfg = DetectionSection()
    secs = args.minutes * 60
    still = [synthetic_clip(secs, (1920, 1080), seed=s, parked=True) for s in (1, 2)]
    clips = [
        ("real: lanes/solidWhiteRight.mp4 (960x540)", testdata() / "video" / "lanes" / "solidWhiteRight.mp4"),
        ("real: highway/test_video.mp4 (1280x720)", testdata() / "video" / "highway" / "test_video.mp4"),
    ]
    if not args.skip_drive:
        clips.append((f"synthetic {args.minutes:g} min drive 1080p", synthetic_clip(secs, (1920, 1080))))
    clips += [(f"still {args.minutes:g} min 1080p (seed {i + 1})", p) for i, p in enumerate(still)]
    clips.append(
        (
            f"still {args.minutes:g} min 1080p, a car at {0.6 * secs:g} s",
            synthetic_clip(secs, (1920, 1080), seed=3, parked=True, passing_at=(0.6 * secs,)),
        )
    )
    # a worker runs many clips: the first call's lazy imports and allocations are not a per-clip cost
    preprocess_clip(
        clips[1][1], detector=det, cfg=cfg, clip_hash="0" * 64, model="bench", config_hash="bench"
    )
    print(
        f"{'clip':<44} {'stage s':>8} {'floor s':>8} {'ratio':>6} {'passed':>7} {'decoded':>8} {'mode':>10}"
    )
    for name, path in clips:
        floor = min(ffmpeg_floor(Path(path)) for _ in range(2))
        t = time.perf_counter()
        m = preprocess_clip(
            path, detector=det, cfg=cfg, clip_hash="0" * 64, model="bench", config_hash="bench"
        )
        took = time.perf_counter() - t
        share = m.seconds_passed / m.duration_s if m.duration_s else 0.0
        print(
            f"{name:<44} {took:8.2f} {floor:8.2f} {took / floor:6.2f} {share:7.1%} {m.samples:8d} {m.sample_mode:>10}"
        )
    whole_command(still)


def whole_command(still: list[Path]) -> None:
    """`dashcam run` on the still clips as a user runs it, vs the decode floor of the same files."""
    work = Path(tempfile.mkdtemp(prefix="dashcam-bench-still-"))
    try:
        folder = work / "footage"
        folder.mkdir()
        for i, src in enumerate(still):
            shutil.copyfile(src, folder / f"2024_0518_23{i:02d}00_{i + 1:06d}PF.MP4")
        floor = sum(min(ffmpeg_floor(p) for _ in range(2)) for p in sorted(folder.iterdir()))
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(work / "home"),
            "LANG": "C.UTF-8",
            "DASHCAM_DATA_DIR": str(work / "data"),
            "DASHCAM_MODELS_DIR": str(models_dir()),
        }
        dashcam = str(Path(sys.executable).parent / "dashcam")
        t = time.perf_counter()
        proc = subprocess.run(
            [dashcam, "run", str(folder), "--json"], env=env, capture_output=True, text=True
        )
        wall = time.perf_counter() - t
        if proc.returncode != 0:
            raise SystemExit(f"dashcam run exited {proc.returncode}: {proc.stderr[-2000:]}")
        summary = json.loads(proc.stdout)
        print(
            f"\n`dashcam run` on {len(still)} still clips (fresh data folder, start-up included): {wall:.1f} s; "
            f"decode floor of the same files {floor:.1f} s; ratio {wall / floor:.2f} (target <= 0.5); "
            f"{summary['sightings']} sighting(s)"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
