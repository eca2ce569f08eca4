"""Where each configured model runs on this machine: loaded for real, as the stages load them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dashcam.vision.config import UltralyticsDetectorConfig, VisionConfig
from dashcam.vision.errors import VisionError


@dataclass(frozen=True)
class GpuSettings:
    """The parts of a device file's ``gpu`` section the models need."""

    device_id: int = 0
    max_batch_size: int = 1
    allow_cpu_fallback: bool = False
    yolo_model_path: str = "yolov8n.pt"


def device_configs(
    vision: VisionConfig, gpu: GpuSettings | None, *, models_dir: str | Path | None = None
) -> dict[str, Any]:
    """Each stage model's config as this device runs it (role -> config; disabled roles left out): the
    heavy stage's models move to the GPU a gpu section names, the preprocess stage's coarse detector stays."""
    from dashcam.vision import defaults
    from dashcam.vision.providers import on_gpu

    out: dict[str, Any] = {}
    if vision.coarse_detector is not None:
        out["coarse_detector"] = vision.coarse_detector
    if gpu is not None:
        out["vehicle_detector"] = UltralyticsDetectorConfig.for_gpu(
            device_id=gpu.device_id, max_batch_size=gpu.max_batch_size, model=gpu.yolo_model_path
        )
    elif (vehicle := defaults.vehicle_detector(vision, models_dir=models_dir)) is not None:
        out["vehicle_detector"] = vehicle
    kw: dict[str, Any] | None = (
        {
            "device_id": gpu.device_id,
            "max_batch_size": gpu.max_batch_size,
            "allow_cpu_fallback": gpu.allow_cpu_fallback,
        }
        if gpu
        else None
    )
    plate = defaults.plate_detector(vision, models_dir=models_dir)
    # roles named as dashcam.vision.inventory names them: "ocr", or "ocr[i]" for a list of recognisers
    ocrs = [
        ("ocr" if not isinstance(vision.ocr, list) else f"ocr[{i}]", o) for i, o in enumerate(vision.ocrs)
    ]
    for role, cfg in [("plate_detector", plate), *ocrs]:
        if cfg is not None:
            out[role] = on_gpu(cfg, **kw) if kw else cfg
    return out


def where_it_runs(role: str, cfg: Any, *, models_dir: str | Path | None = None) -> str:
    """Load one model and say where it runs ('cuda:0', 'cpu', 'edgetpu'), or 'error: <why>' in one line."""
    from dashcam.vision.detectors import build_detector
    from dashcam.vision.ocr.registry import build_ocr

    model = (
        build_ocr(cfg, models_dir=models_dir)
        if role.startswith("ocr")
        else build_detector(cfg, models_dir=models_dir)
    )
    try:
        model.load()
    except VisionError as exc:
        return f"error: {exc}"
    return model.provider or "?"
