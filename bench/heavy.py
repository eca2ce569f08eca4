"""Heavy stage throughput vs bare model inference on the same frames, measured in the same run.

    DASHCAM_MODELS_DIR=../shared/models DASHCAM_TESTDATA=../shared/testdata python bench/heavy.py [--fps 10] [--batch 1]
        [--repeat 5]

The floor is the vehicle detector alone on the frames the stage decodes, at the score the stage keeps
(``detection.vehicle_low_conf``); the stage adds decoding, the lane-crop canvas (the same one inference per
frame), tracking, colour signatures, joining tracks, plate reading on a few frames per vehicle, thumbnails
and the sighting-clip buffer. Reports frames per second,
video seconds per second and the overhead of everything that is not vehicle inference (target <= 25% without
plates; plates are reported separately, they are work, not overhead). Bare inference and the stage run in turns,
``--repeat`` times each, and the medians are compared: one pass over a short clip moves by +-10 % on a shared VM.
Decoding alone (the same frames, no detector) is timed too: on a machine whose cores the detector already fills,
it is the part of the overhead that is the decoder's own work, not ours.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

from _common import models_dir, testdata


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fps", type=float, default=10.0)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--model", default="yolov8n_full_integer_quant.tflite")
    ap.add_argument("--repeat", type=int, default=5, help="timed passes of each (medians are compared)")
    ap.add_argument(
        "--backend",
        choices=["stage", "ultralytics"],
        default="stage",
        help="stage: the heavy stage's default vehicle detector (here: the int8 TFLite YOLO through LiteRT; "
        "--model is ignored); ultralytics: --model through ultralytics",
    )
    ap.add_argument(
        "--decode-nice",
        type=int,
        default=None,
        help="the decode-ahead thread's niceness over the detector's (default: the stage's on a CPU)",
    )
    args = ap.parse_args()

    from dashcam.config import DetectionSection
    from dashcam.stages.heavy import analysis as heavy
    from dashcam.video.decode import iter_frames, probe
    from dashcam.vision import lanecrop
    from dashcam.vision.config import UltralyticsDetectorConfig, VisionConfig
    from dashcam.vision.defaults import vehicle_detector
    from dashcam.vision.detectors import build_detector
    from dashcam.vision.plates import PlateReader, PlateReaderOptions

    section = DetectionSection()
    cfg: Any = UltralyticsDetectorConfig(model=args.model, batch_size=args.batch)
    if args.backend == "stage":
        cfg = vehicle_detector(VisionConfig(), models_dir=models_dir())
        args.model = cfg.model if isinstance(cfg.model, str) else cfg.model[0]
    # as the stage runs it: boxes down to the tracker's low threshold (dashcam.stages.heavy.record)
    cfg = cfg.model_copy(update={"conf": min(cfg.conf, section.vehicle_low_conf)})
    det = build_detector(cfg, models_dir=models_dir())
    det.load()
    side = lanecrop.input_side(det) if section.lane_crop else None
    detect = lanecrop.detector(det.detect, side) if side else det.detect
    clip = testdata() / "video" / "lanes" / "solidWhiteRight.mp4"
    dur = probe(clip).duration_s
    frames = [f.image for f in iter_frames(clip, fps=args.fps)]
    setup = heavy.decode_setup(on_gpu=False)  # as the stage decodes on a CPU
    if args.decode_nice is not None:
        setup = heavy.DecodeSetup(threads=setup.threads, nice=args.decode_nice)
    heavy.share_cores(on_gpu=False)

    def bare_pass() -> float:
        t = time.perf_counter()
        for i in range(0, len(frames), args.batch):
            det.detect(frames[i : i + args.batch])
        return time.perf_counter() - t

    def stage_pass() -> tuple[float, Any]:
        t = time.perf_counter()
        out = heavy.process_clip(
            clip,
            [(0.0, dur)],
            detect=detect,
            read_plates=None,
            fps=args.fps,
            batch_size=args.batch,
            conf=section.vehicle_conf,
            low_conf=section.vehicle_low_conf,
            decode=setup,
        )
        return time.perf_counter() - t, out

    def decode_pass() -> float:
        t = time.perf_counter()
        for _ in iter_frames(clip, fps=args.fps, threads=setup.threads):
            pass
        return time.perf_counter() - t

    bare_pass()  # warm-up: the first invoke sets up the delegate
    bares, stages, decodes = [], [], []
    for _ in range(max(1, args.repeat)):
        bares.append(bare_pass())
        s, out = stage_pass()
        stages.append(s)
        decodes.append(decode_pass())
    bare, stage, decode = (statistics.median(v) for v in (bares, stages, decodes))
    reader = PlateReader.from_config(
        options=PlateReaderOptions(full_frame_with_vehicles=False, tile_fallback=False),
        models_dir=models_dir(),
    )
    reader.load()
    t = time.perf_counter()
    with_plates = heavy.process_clip(
        clip,
        [(0.0, dur)],
        detect=detect,
        read_plates=reader.read_image,
        fps=args.fps,
        batch_size=args.batch,
        conf=section.vehicle_conf,
        low_conf=section.vehicle_low_conf,
        decode=setup,
    )
    stage_plates = time.perf_counter() - t
    n = out.frames
    print(
        f"clip {clip.name}: {dur:.1f} s of video, {n} frames at {args.fps:g} fps, batch {args.batch}, model {args.model} ({det.backend}), "
        f"conf {cfg.conf:g}, lane crop {'on' if side else 'off'}, decoding niced +{setup.nice}"
    )
    print(f"bare inference        {bare:7.2f} s  {n / bare:6.1f} fps  {dur / bare:5.2f} video-s/s")
    print(
        f"stage (no plates)     {stage:7.2f} s  {n / stage:6.1f} fps  {dur / stage:5.2f} video-s/s  "
        f"overhead {stage / bare - 1:+.1%}  ({len(out.sightings)} sightings)"
    )
    print(
        f"  medians of {len(bares)} passes in turns; overhead per pass "
        + " ".join(f"{s / b - 1:+.0%}" for s, b in zip(stages, bares, strict=True))
    )
    print(
        f"decoding alone        {decode:7.2f} s  (the decoder's own work: {decode / bare:.1%} of bare inference)"
    )
    print(
        f"stage (with plates)   {stage_plates:7.2f} s  {n / stage_plates:6.1f} fps  {dur / stage_plates:5.2f} video-s/s  "
        f"plates {with_plates.timings['plates']:.2f} s"
    )


if __name__ == "__main__":
    main()
