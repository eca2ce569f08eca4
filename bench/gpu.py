"""The heavy stage on a fixed 1080p clip at batch 1, 2, 4 and 8, on the CPU and on the GPU, against decoding alone.

    DASHCAM_MODELS_DIR=../shared/models python bench/gpu.py \\
        [--seconds 20] [--batches 1,2,4,8] [--device-id 0] [--gpu-model yolov8n.pt] [--json bench-gpu.json]

The clip is the synthetic 1080p drive of bench/_common.py (seed 0, 30 fps, rendered once and cached), so every
machine measures the same frames. Each column runs the heavy stage's own models, built by the stage's own
functions from a device file: the CPU column from one without a gpu section (the stage's CPU vehicle detector,
the ONNX plate detector and RapidOCR on the CPU), the GPU column from one with ``gpu.device_id`` and
``gpu.max_batch_size`` = the batch (ultralytics ``--gpu-model`` on cuda:N, the ONNX models on CUDA; no CPU
fallback, so a GPU column is never a CPU run in disguise). A machine without a CUDA device prints the GPU
columns as absent, with the reason.

The floor is ffmpeg decoding the whole clip (``-f null``): the most any pipeline that looks at the frames can
do. Also reported: our decoder alone at the stage's fps, each model's latency on one frame (one plate's crops
for the recogniser), and the real-time factor (video seconds per wall second) of every run. ``--json`` writes
all of it, with the card's name, for docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

from _common import ffmpeg_floor, models_dir, synthetic_clip

SIZE = (1920, 1080)


def _gpu_absent_reason(device_id: int) -> str | None:
    """None when CUDA device ``device_id`` is usable by torch, else why not."""
    try:
        import torch
    except ImportError:
        return "torch is not installed (the [gpu] extra)"
    if not torch.cuda.is_available():
        return "no CUDA device (torch.cuda.is_available() is False)"
    if device_id >= torch.cuda.device_count():
        return f"no CUDA device {device_id} (torch sees {torch.cuda.device_count()})"
    return None


def _context(gpu: dict[str, Any] | None) -> Any:
    """A real StageContext for a device with (or without) a gpu section: the stage builds its models."""
    from dashcam.config import Config, DeviceConfig, GlobalConfig, GpuSection
    from dashcam.settings import get_settings
    from dashcam.stages.context import StageContext

    device = DeviceConfig(device_type="rtx_4090", gpu=GpuSection(**gpu) if gpu else None)
    settings = dataclasses.replace(get_settings(), device="bench", models_dir=models_dir())
    cfg = Config(global_config=GlobalConfig(), devices={"bench": device}, source_dir=None, settings=settings)
    return StageContext(config=cfg, device="bench")


def _median_ms(fn: Any, runs: int) -> float:
    fn()  # warm: first calls allocate
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return round(statistics.median(times) * 1000, 2)


def _latencies(ctx: Any, frame: Any, runs: int) -> dict[str, float]:
    """Per-model latency on one 1080p frame: vehicle detector, plate detector (whole frame), recogniser (the
    crop variants of one plate box)."""
    from dashcam.stages.heavy.record import plate_reader, vehicle_model

    det = vehicle_model(ctx)
    reader = plate_reader(ctx).crops
    h, w = frame.shape[:2]
    box = (w * 0.45, h * 0.6, w * 0.55, h * 0.66)
    crops = [reader.crops.variant(v, frame, box) for v in reader.options.variants]
    return {
        "vehicle_detector_ms": _median_ms(lambda: det.detect([frame]), runs),
        "plate_detector_ms": _median_ms(lambda: reader.detector.detect([frame]), runs),
        f"recogniser_ms_{len(crops)}_crops": _median_ms(lambda: reader.ocr.read(crops), runs),
    }


def _stage_run(ctx: Any, clip: Path, dur: float, fps: float, batch: int) -> dict[str, Any]:
    from dashcam.stages.heavy import analysis as heavy
    from dashcam.stages.heavy.record import plate_reader, vehicle_model

    det = vehicle_model(ctx)
    reader = plate_reader(ctx)
    t = time.perf_counter()
    out = heavy.process_clip(
        clip,
        [(0.0, dur)],
        detect=det.detect,
        read_plates=reader.read_image,
        fps=fps,
        batch_size=batch,
        conf=ctx.config.global_config.detection.vehicle_conf,
    )
    wall = time.perf_counter() - t
    return {
        "wall_s": round(wall, 3),
        "frames": out.frames,
        "fps": round(out.frames / wall, 2),
        "realtime_x": round(dur / wall, 2),
        "sightings": len(out.sightings),
        "timings_s": out.timings,
    }


def _providers(ctx: Any) -> dict[str, str | None]:
    from dashcam.stages.heavy.record import plate_reader, vehicle_model

    reader = plate_reader(ctx).crops
    return {
        "vehicle_detector": vehicle_model(ctx).provider,
        "plate_detector": reader.detector.provider,
        "recogniser": reader.ocr.provider,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="length of the synthetic 1080p clip")
    ap.add_argument("--batches", default="1,2,4,8")
    ap.add_argument("--device-id", type=int, default=0)
    ap.add_argument("--gpu-model", default="yolov8n.pt", help="the GPU column's vehicle detector weights")
    ap.add_argument("--latency-runs", type=int, default=10)
    ap.add_argument("--skip-cpu", action="store_true", help="GPU columns only (the CPU ones take long)")
    ap.add_argument("--json", type=Path, help="write the results here")
    args = ap.parse_args()
    batches = [int(b) for b in args.batches.split(",")]

    from dashcam.config import DetectionSection
    from dashcam.video.decode import iter_frames, probe

    fps = DetectionSection().heavy_fps
    clip = synthetic_clip(args.seconds, SIZE, 30.0)
    dur = probe(clip).duration_s
    floor = ffmpeg_floor(clip)
    t = time.perf_counter()
    frames = [f.image for f in iter_frames(clip, fps=fps)]
    ours = time.perf_counter() - t
    n_all = round(dur * 30.0)
    result: dict[str, Any] = {
        "clip": {"name": clip.name, "seconds": round(dur, 2), "size": list(SIZE), "stage_fps": fps},
        "host": {"machine": platform.node(), "cpu": platform.processor() or platform.machine()},
        "decode": {
            "ffmpeg_floor_s": round(floor, 3),
            "ffmpeg_fps": round(n_all / floor, 1),
            "ffmpeg_realtime_x": round(dur / floor, 2),
            "ours_at_stage_fps_s": round(ours, 3),
            "ours_fps": round(len(frames) / ours, 1),
        },
        "runs": {},
    }
    gpu_absent = _gpu_absent_reason(args.device_id)
    if gpu_absent is None:
        import torch

        result["gpu"] = {"name": torch.cuda.get_device_name(args.device_id), "device_id": args.device_id}
    else:
        result["gpu"] = {"absent": gpu_absent}
    middle = frames[len(frames) // 2]
    for device in ("cpu", "gpu"):
        if device == "cpu" and args.skip_cpu:
            result["runs"]["cpu"] = {"absent": "--skip-cpu"}
            continue
        if device == "gpu" and gpu_absent:
            result["runs"]["gpu"] = {"absent": gpu_absent}
            continue
        col: dict[str, Any] = {"batches": {}}
        for b in batches:
            gpu = (
                {"device_id": args.device_id, "max_batch_size": b, "yolo_model_path": args.gpu_model}
                if device == "gpu"
                else None
            )
            ctx = _context(gpu)
            if b == batches[0]:
                col["providers"] = _providers(ctx)
                col["latency"] = _latencies(ctx, middle, args.latency_runs)
            col["batches"][str(b)] = _stage_run(ctx, clip, dur, fps, b)
            print(f"{device} batch {b}: {col['batches'][str(b)]}", flush=True)
        result["runs"][device] = col
    _print_table(result, batches)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.json}")


def _print_table(r: dict[str, Any], batches: list[int]) -> None:
    d = r["decode"]
    gpu = r["gpu"].get("name") or f"absent ({r['gpu']['absent']})"
    print(
        f"\nclip {r['clip']['name']}: {r['clip']['seconds']} s of 1080p, stage at {r['clip']['stage_fps']:g} fps; GPU: {gpu}"
    )
    print(
        f"decode floor (ffmpeg -f null, every frame)  {d['ffmpeg_fps']:8.1f} fps  {d['ffmpeg_realtime_x']:6.2f}x real time"
    )
    print(f"our decoder alone at the stage's fps        {d['ours_fps']:8.1f} fps")
    print(
        f"\n{'':18}"
        + "".join(f"{'cpu b' + str(b):>13}" for b in batches)
        + "".join(f"{'gpu b' + str(b):>13}" for b in batches)
    )

    def cell(device: str, b: int, key: str) -> str:
        run = r["runs"][device]
        if "absent" in run:
            return f"{'absent':>13}"
        return f"{run['batches'][str(b)][key]:>13}"

    for key, label in (("fps", "heavy stage fps"), ("realtime_x", "x real time")):
        print(f"{label:18}" + "".join(cell(dev, b, key) for dev in ("cpu", "gpu") for b in batches))
    for device in ("cpu", "gpu"):
        run = r["runs"][device]
        if "absent" in run:
            print(f"{device}: absent ({run['absent']})")
        else:
            lat = ", ".join(f"{k} {v}" for k, v in run["latency"].items())
            print(f"{device}: providers {run['providers']}; latency {lat}")


if __name__ == "__main__":
    main()
