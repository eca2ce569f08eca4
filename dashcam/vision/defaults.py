"""Which detector each stage really uses when the configuration keeps the defaults.

The defaults name the files of this project's reference set (int8 TFLite YOLO, int8 ONNX plate detector).
Where those are absent but the standard weights that `dashcam models pull` fetches are present
(``yolov8n.pt``, ``license_plate_detector.pt``), the same role runs through the ultralytics backend instead.
An explicitly configured detector is always used as configured.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from dashcam.vision.config import (
    DetectorConfig,
    LiteRTDetectorConfig,
    UltralyticsDetectorConfig,
    VisionConfig,
)
from dashcam.vision.models import find_model

# What `dashcam run` pulls when nothing is present and the network allows it.
STANDARD_PULL = ("yolov8n", "plate-yolov8n")


def _present(cfg: DetectorConfig, models_dir: str | Path | None) -> bool:
    refs = cfg.model if isinstance(cfg.model, list) else [cfg.model]
    if any(find_model(r, models_dir=models_dir) for r in refs):
        return True
    fallback = getattr(cfg, "fallback_model", None)
    return bool(fallback and find_model(fallback, models_dir=models_dir))


def coarse_detector(
    vision: VisionConfig, *, coral: bool, models_dir: str | Path | None
) -> DetectorConfig | None:
    """The preprocess stage's detector: the configured one, or the standard YOLO on a machine without it."""
    cfg = vision.coarse_detector
    if cfg is None or "coarse_detector" in vision.model_fields_set or coral or _present(cfg, models_dir):
        return cfg
    return UltralyticsDetectorConfig(
        model=["yolov8n.pt", "yolo11n.pt"], device="cpu", conf=cfg.conf, iou=cfg.iou
    )


def vehicle_detector(vision: VisionConfig, *, models_dir: str | Path | None) -> DetectorConfig | None:
    """The heavy stage's detector on a CPU: the configured one, or the first default model found, run by the
    lightest runtime that can. A TFLite file goes through ai-edge-litert where it is installed: the same
    weights without importing torch and ultralytics (about 9 s less start-up per process here, and a faster
    frame); any other file through ultralytics."""
    cfg = vision.vehicle_detector
    if (
        not isinstance(cfg, UltralyticsDetectorConfig)
        or "vehicle_detector" in vision.model_fields_set
        or cfg.device != "cpu"
    ):
        return cfg
    for ref in cfg.model if isinstance(cfg.model, list) else [cfg.model]:
        path = find_model(ref, models_dir=models_dir)
        if path is None:
            continue
        if path.suffix == ".tflite" and importlib.util.find_spec("ai_edge_litert") is not None:
            return LiteRTDetectorConfig(
                model=ref,
                fallback_model=None,
                conf=cfg.conf,
                iou=cfg.iou,
                classes=cfg.classes,
                max_detections=cfg.max_detections,
            )
        return cfg
    return cfg


def plate_detector(vision: VisionConfig, *, models_dir: str | Path | None) -> DetectorConfig | None:
    """The plate detector: the configured one, or the standard plate YOLO when the reference file is absent."""
    cfg = vision.plate_detector
    if cfg is None or "plate_detector" in vision.model_fields_set or _present(cfg, models_dir):
        return cfg
    return UltralyticsDetectorConfig(
        model="license_plate_detector.pt", device="cpu", conf=cfg.conf, iou=cfg.iou
    )
