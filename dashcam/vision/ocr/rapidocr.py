"""RapidOCR (the default recogniser: its models ship in the wheel), on onnxruntime."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from dashcam.vision.batching import run_batched
from dashcam.vision.config import RapidOcrConfig
from dashcam.vision.errors import missing_runtime
from dashcam.vision.ocr.base import OcrBackend, constrained_result, join_pieces
from dashcam.vision.ocr.ctc import PlateCtcDecoder
from dashcam.vision.types import OcrResult

log = logging.getLogger(__name__)


def _rapidocr_params(cfg: RapidOcrConfig) -> dict[str, Any]:
    """RapidOCR's engine config: its onnxruntime sessions on CUDA when the providers ask for a GPU."""
    from dashcam.vision.providers import load_gpu_libraries, wants_gpu

    params: dict[str, Any] = {"Global.log_level": "warning"}
    if wants_gpu(cfg.providers):
        load_gpu_libraries()
        params |= {
            "EngineConfig.onnxruntime.use_cuda": True,
            "EngineConfig.onnxruntime.cuda_ep_cfg.device_id": cfg.device_id,
        }
    return params


def _rapidocr_provider(engine: Any, cfg: RapidOcrConfig) -> str:
    """Where RapidOCR's recogniser session really runs (checked as every ONNX session is), logged once."""
    from dashcam.vision.providers import check_session, provider_name

    session = getattr(getattr(getattr(engine, "text_rec", None), "session", None), "session", None)
    got = session.get_providers() if session is not None else ["CPUExecutionProvider"]
    first = check_session(
        got, cfg.providers, allow_cpu_fallback=cfg.allow_cpu_fallback, what="OCR backend rapidocr"
    )
    where = provider_name(first, cfg.device_id)
    log.info("OCR backend rapidocr runs on %s", where)
    return where


class RapidOcrBackend(OcrBackend[RapidOcrConfig]):
    """RapidOCR's PP-OCR models through onnxruntime; recognition only unless ``detect`` is set.

    With ``constrained`` (and no ``detect``) the recognition session is run here and its output decoded by
    :class:`PlateCtcDecoder`: the text holds plate characters only, ``char_probs`` their probabilities and the
    confidence is their mean.
    """

    backend = "rapidocr"

    def load(self) -> None:
        """Create the engine and warm it up."""
        try:
            from rapidocr import RapidOCR
        except ImportError as exc:
            raise missing_runtime("rapidocr", "rapidocr and onnxruntime", kind="OCR backend") from exc
        self._engine = RapidOCR(params=_rapidocr_params(self.cfg))
        self.provider = _rapidocr_provider(self._engine, self.cfg)
        self._decoder: PlateCtcDecoder | None = None
        self._loaded = True
        # The first call creates the onnxruntime sessions' buffers: do it before the first real crop.
        warm = np.full((48, 160, 3), 255, dtype=np.uint8)
        self._engine(warm, use_det=False, use_cls=False, use_rec=True)
        if self.cfg.constrained and not self.cfg.detect:
            rec: Any = getattr(self._engine, "text_rec", None)
            try:
                self._decoder = PlateCtcDecoder(rec.postprocess_op.character)
                self._rec = rec
                self._read(warm)
            except (AttributeError, TypeError, ValueError) as exc:  # another rapidocr layout: its own text
                log.warning("rapidocr: plate-constrained decoding unavailable (%s), using its text", exc)
                self._decoder = None

    def read(self, crops: Sequence[np.ndarray]) -> list[OcrResult]:
        """The text of each crop; with the constrained decoder, crops of a similar shape share one call."""
        if not self._loaded:
            self.load()
        if self._decoder is None:
            return [self._read(c) for c in crops]
        # pre-processed as RapidOCR does, each at least as wide as the model's own input
        _, in_h, in_w = self._rec.rec_image_shape
        imgs = [self._engine.preprocess_img(self._engine.load_img(c))[0] for c in crops]
        ratios = [max(in_w / in_h, i.shape[1] / i.shape[0]) for i in imgs]
        out: dict[int, OcrResult] = {}
        # groups of crops whose width (at the model's height) is within 10 %: padding a crop far wider
        # would add many blank steps and change what the recogniser sees
        order = sorted(range(len(crops)), key=lambda k: ratios[k])
        groups: list[list[int]] = []
        for k in order:
            if groups and ratios[k] <= ratios[groups[-1][0]] * 1.1:
                groups[-1].append(k)
            else:
                groups.append([k])
        for group in groups:
            widest = max(ratios[k] for k in group)
            batch = np.stack([self._rec.resize_norm_img(imgs[k], widest) for k in group]).astype(np.float32)
            probs = run_batched(batch, self._rec.session, max_batch=self.cfg.max_batch)
            for row, k in enumerate(group):
                out[k] = self._decoded(probs[row])
        return [out[k] for k in range(len(crops))]

    def _decoded(self, probs: np.ndarray) -> OcrResult:
        assert self._decoder is not None
        return constrained_result(*self._decoder.decode(probs), self.cfg.min_confidence)

    def _read(self, crop: np.ndarray) -> OcrResult:
        if self._decoder is not None:
            return self.read([crop])[0]
        out = self._engine(crop, use_det=self.cfg.detect, use_cls=self.cfg.detect, use_rec=True)
        texts = getattr(out, "txts", None) or ()
        scores = getattr(out, "scores", None) or ()
        return join_pieces(list(zip(texts, scores, strict=False)), self.cfg.min_confidence)
