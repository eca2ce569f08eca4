"""The one registry of plate recognisers: ``vision.ocr``'s ``type`` -> its backend class."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from dashcam.vision.config import EasyOcrConfig, PlateOnnxOcrConfig, RapidOcrConfig, TesseractOcrConfig
from dashcam.vision.ocr.base import OcrBackend
from dashcam.vision.ocr.easyocr import EasyOcrBackend
from dashcam.vision.ocr.plate_onnx import PlateOnnxOcrBackend
from dashcam.vision.ocr.rapidocr import RapidOcrBackend
from dashcam.vision.ocr.tesseract import TesseractOcrBackend

AnyOcrConfig = RapidOcrConfig | EasyOcrConfig | TesseractOcrConfig | PlateOnnxOcrConfig

OCR_BACKENDS: dict[str, type[OcrBackend]] = {
    "rapidocr": RapidOcrBackend,
    "easyocr": EasyOcrBackend,
    "tesseract": TesseractOcrBackend,
    "plate_onnx": PlateOnnxOcrBackend,
}


def build_ocr(
    cfg: AnyOcrConfig,
    *,
    models_dir: str | Path | None = None,
) -> OcrBackend:
    """The OCR backend a config describes, not loaded yet (read() loads it)."""
    try:
        cls = OCR_BACKENDS[cfg.type]
    except KeyError:
        raise ValueError(f"unknown OCR type {cfg.type!r} (known: {', '.join(OCR_BACKENDS)})") from None
    return cls(cfg, models_dir=models_dir)


def build_ocrs(
    cfg: AnyOcrConfig | Sequence[AnyOcrConfig], *, models_dir: str | Path | None = None
) -> list[OcrBackend]:
    """The OCR backends of ``vision.ocr`` (one config or a list), not loaded yet."""
    configs = [cfg] if not isinstance(cfg, Sequence) else list(cfg)
    return [build_ocr(c, models_dir=models_dir) for c in configs]
