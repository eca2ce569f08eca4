"""Tesseract through pytesseract (no extra ships it: pip install pytesseract, apt-get install tesseract-ocr)."""

from __future__ import annotations

from typing import Any

import numpy as np

from dashcam.vision.config import TesseractOcrConfig
from dashcam.vision.errors import BackendUnavailable
from dashcam.vision.ocr.base import OcrBackend, join_pieces
from dashcam.vision.types import OcrResult


class TesseractOcrBackend(OcrBackend[TesseractOcrConfig]):
    """Tesseract on single-line crops (``psm`` 7 by default)."""

    backend = "tesseract"

    def load(self) -> None:
        """Check that pytesseract and the tesseract binary are there."""
        try:
            import pytesseract
        except ImportError as exc:
            raise BackendUnavailable(
                "the 'tesseract' OCR backend needs pytesseract and the tesseract-ocr program "
                "(pip install pytesseract; apt-get install tesseract-ocr): no extra ships them"
            ) from exc
        try:
            pytesseract.get_tesseract_version()
        except pytesseract.TesseractNotFoundError as exc:
            raise BackendUnavailable("the 'tesseract' OCR backend needs the tesseract-ocr program") from exc
        self._tess: Any = pytesseract
        self._loaded = True

    def _read(self, crop: np.ndarray) -> OcrResult:
        data = self._tess.image_to_data(
            crop[:, :, ::-1], lang=self.cfg.lang, config=f"--psm {self.cfg.psm}", output_type="dict"
        )
        pieces = [(t, c / 100.0) for t, c in zip(data["text"], data["conf"], strict=True) if float(c) >= 0]
        return join_pieces(pieces, 0.0)
