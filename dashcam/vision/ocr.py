"""OCR backends behind one interface: read the text of plate crops.

rapidocr is the default (its models ship in the wheel); easyocr is the GPU box's choice (weights from
`dashcam models pull`, never downloaded at run time); tesseract when pytesseract and tesseract-ocr exist.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np

from dashcam.vision.config import EasyOcrConfig, RapidOcrConfig, TesseractOcrConfig
from dashcam.vision.errors import BackendUnavailable, OcrWeightsMissing, missing_runtime
from dashcam.vision.models import search_dirs
from dashcam.vision.types import OcrResult

log = logging.getLogger(__name__)

C = TypeVar("C")

EASYOCR_DETECTOR = "craft_mlt_25k.pth"
# Recognizer weights per language set EasyOCR would pick; other sets are checked by EasyOCR itself.
EASYOCR_RECOGNIZERS = {frozenset({"en"}): "english_g2.pth"}


def _join(pieces: Sequence[tuple[str, float]], min_confidence: float) -> OcrResult:
    """One result from (text, score) pieces: kept texts joined by spaces, the lowest kept score."""
    kept = [(t.strip(), float(s)) for t, s in pieces if t and t.strip() and float(s) >= min_confidence]
    if not kept:
        return OcrResult(text="", confidence=0.0, raw=tuple(pieces))
    return OcrResult(text=" ".join(t for t, _ in kept), confidence=min(s for _, s in kept), raw=tuple(pieces))


class OcrBackend(ABC, Generic[C]):
    """Load once, then read a batch of BGR crops (one result per crop, "" when nothing is read)."""

    backend: ClassVar[str]

    def __init__(self, cfg: C, *, models_dir: str | Path | None = None) -> None:
        self.cfg = cfg
        self.models_dir = models_dir
        self._loaded = False

    @abstractmethod
    def load(self) -> None:
        """Import the runtime and load the models."""

    @abstractmethod
    def _read(self, crop: np.ndarray) -> OcrResult:
        """Backend recognition of one crop."""

    def read(self, crops: Sequence[np.ndarray]) -> list[OcrResult]:
        """The text of each crop."""
        if not self._loaded:
            self.load()
        return [self._read(c) for c in crops]


class RapidOcrBackend(OcrBackend[RapidOcrConfig]):
    """RapidOCR's PP-OCR models through onnxruntime; recognition only unless ``detect`` is set."""

    backend = "rapidocr"

    def load(self) -> None:
        """Create the engine and warm it up."""
        try:
            from rapidocr import RapidOCR
        except ImportError as exc:
            raise missing_runtime("rapidocr", "rapidocr and onnxruntime", kind="OCR backend") from exc
        self._engine = RapidOCR(params={"Global.log_level": "warning"})
        self._loaded = True
        # The first call creates the onnxruntime sessions' buffers: do it before the first real crop.
        self._read(np.full((48, 160, 3), 255, dtype=np.uint8))

    def _read(self, crop: np.ndarray) -> OcrResult:
        out = self._engine(crop, use_det=self.cfg.detect, use_cls=self.cfg.detect, use_rec=True)
        texts = getattr(out, "txts", None) or ()
        scores = getattr(out, "scores", None) or ()
        return _join(list(zip(texts, scores, strict=False)), self.cfg.min_confidence)


class EasyOcrBackend(OcrBackend[EasyOcrConfig]):
    """EasyOCR with downloads disabled: missing weights are an error that says how to get them."""

    backend = "easyocr"

    def required_files(self) -> list[str]:
        """The weight files this configuration needs that we know the names of."""
        files = [EASYOCR_DETECTOR] if self.cfg.detect else []
        rec = EASYOCR_RECOGNIZERS.get(frozenset(self.cfg.languages))
        return files + ([rec] if rec else [])

    def weights_dir(self) -> Path:
        """The folder that holds every required weight file (OcrWeightsMissing if none does)."""
        needed = self.required_files()
        if self.cfg.model_dir:
            candidates = [Path(self.cfg.model_dir).expanduser()]
        else:
            easyocr_home = os.environ.get("EASYOCR_MODULE_PATH") or str(Path.home() / ".EasyOCR")
            candidates = [*search_dirs(self.models_dir), Path(easyocr_home) / "model"]
        for d in candidates:
            if all((d / f).is_file() for f in needed):
                return d
        where = ", ".join(str(d) for d in candidates)
        missing = [f for f in needed if not any((d / f).is_file() for d in candidates)] or needed
        raise OcrWeightsMissing(
            f"EasyOCR weights {' / '.join(missing)} not found in {where}: run `dashcam models pull easyocr`"
        )

    def load(self) -> None:
        """Check the weights, then build the reader without downloads."""
        if importlib.util.find_spec("easyocr") is None:
            raise missing_runtime("easyocr", "easyocr", kind="OCR backend")
        weights = self.weights_dir()
        import easyocr

        try:
            self._reader = easyocr.Reader(
                self.cfg.languages,
                gpu=self.cfg.gpu,
                model_storage_directory=str(weights),
                download_enabled=False,
                detector=self.cfg.detect,
                verbose=False,
            )
        except FileNotFoundError as exc:
            raise OcrWeightsMissing(
                f"EasyOCR weights for {self.cfg.languages} not found in {weights}: run `dashcam models pull "
                f"easyocr` or copy them there ({exc})"
            ) from exc
        self._loaded = True

    def _read(self, crop: np.ndarray) -> OcrResult:
        if self.cfg.detect:
            found = self._reader.readtext(crop, detail=1)
        else:  # the crop is the text box: recognise it whole
            h, w = crop.shape[:2]
            found = self._reader.recognize(crop, horizontal_list=[[0, w, 0, h]], free_list=[], detail=1)
        return _join([(str(t), float(s)) for _, t, s in found], self.cfg.min_confidence)


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
        return _join(pieces, 0.0)


OCR_BACKENDS: dict[str, type[OcrBackend]] = {
    "rapidocr": RapidOcrBackend,
    "easyocr": EasyOcrBackend,
    "tesseract": TesseractOcrBackend,
}


def build_ocr(
    cfg: RapidOcrConfig | EasyOcrConfig | TesseractOcrConfig, *, models_dir: str | Path | None = None
) -> OcrBackend:
    """The OCR backend a config describes, not loaded yet (read() loads it)."""
    try:
        cls = OCR_BACKENDS[cfg.type]
    except KeyError:
        raise ValueError(f"unknown OCR type {cfg.type!r} (known: {', '.join(OCR_BACKENDS)})") from None
    return cls(cfg, models_dir=models_dir)
