"""Detector backends behind one interface, picked by the config's ``type`` through an explicit registry.

Importing this package imports no runtime: each backend imports its own inside ``load()``.
"""

from __future__ import annotations

from pathlib import Path

from dashcam.vision.config import LiteRTDetectorConfig, OnnxDetectorConfig, UltralyticsDetectorConfig
from dashcam.vision.detectors.base import Detector
from dashcam.vision.detectors.litert import EDGETPU_LIB, LiteRTDetector, is_edgetpu_model
from dashcam.vision.detectors.onnx import OnnxDetector
from dashcam.vision.detectors.ultralytics import UltralyticsDetector

DETECTORS: dict[str, type[Detector]] = {
    "ultralytics": UltralyticsDetector,
    "litert": LiteRTDetector,
    "onnxruntime": OnnxDetector,
}


def build_detector(
    cfg: UltralyticsDetectorConfig | LiteRTDetectorConfig | OnnxDetectorConfig,
    *,
    models_dir: str | Path | None = None,
) -> Detector:
    """The detector a config describes, not loaded yet (call load(), or detect() loads it)."""
    try:
        cls = DETECTORS[cfg.type]
    except KeyError:
        raise ValueError(f"unknown detector type {cfg.type!r} (known: {', '.join(DETECTORS)})") from None
    return cls(cfg, models_dir=models_dir)


__all__ = [
    "DETECTORS",
    "EDGETPU_LIB",
    "Detector",
    "LiteRTDetector",
    "OnnxDetector",
    "UltralyticsDetector",
    "build_detector",
    "is_edgetpu_model",
]
