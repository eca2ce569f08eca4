"""Detector and OCR backends behind small interfaces; importing this package loads no runtime."""

from __future__ import annotations

from dashcam.vision.config import (
    DetectorConfig,
    EasyOcrConfig,
    LiteRTDetectorConfig,
    OcrConfig,
    OnnxDetectorConfig,
    PlateOnnxOcrConfig,
    RapidOcrConfig,
    TesseractOcrConfig,
    UltralyticsDetectorConfig,
    VisionConfig,
)
from dashcam.vision.errors import (
    BackendUnavailable,
    ChecksumMismatch,
    EdgeTpuUnavailable,
    ModelDownloadError,
    ModelInvalid,
    ModelNotFound,
    OcrWeightsMissing,
    VisionError,
)
from dashcam.vision.types import Detection, OcrResult

__all__ = [
    "BackendUnavailable",
    "ChecksumMismatch",
    "Detection",
    "DetectorConfig",
    "EasyOcrConfig",
    "EdgeTpuUnavailable",
    "LiteRTDetectorConfig",
    "ModelDownloadError",
    "ModelInvalid",
    "ModelNotFound",
    "OcrConfig",
    "OcrResult",
    "OcrWeightsMissing",
    "OnnxDetectorConfig",
    "PlateOnnxOcrConfig",
    "RapidOcrConfig",
    "TesseractOcrConfig",
    "UltralyticsDetectorConfig",
    "VisionConfig",
    "VisionError",
]
