"""The interface every OCR backend implements, and the result helpers they share."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import ClassVar, Generic, TypeVar

import numpy as np

from dashcam.vision.types import OcrResult

C = TypeVar("C")


def join_pieces(pieces: Sequence[tuple[str, float]], min_confidence: float) -> OcrResult:
    """One result from (text, score) pieces: kept texts joined by spaces, the lowest kept score."""
    kept = [(t.strip(), float(s)) for t, s in pieces if t and t.strip() and float(s) >= min_confidence]
    if not kept:
        return OcrResult(text="", confidence=0.0, raw=tuple(pieces))
    return OcrResult(text=" ".join(t for t, _ in kept), confidence=min(s for _, s in kept), raw=tuple(pieces))


class OcrBackend(ABC, Generic[C]):
    """Load once, then read a batch of BGR crops (one result per crop, "" when nothing is read)."""

    backend: ClassVar[str]
    # The crop variants a plate reader should use with this recogniser; None: the reader's own (band cuts
    # for general text recognisers).
    crop_variants: tuple[str, ...] | None = None

    def __init__(self, cfg: C, *, models_dir: str | Path | None = None) -> None:
        self.cfg = cfg
        self.models_dir = models_dir
        self.provider: str | None = None  # where the loaded models run ('cpu', 'cuda:0'), for `models check`
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


def constrained_result(
    text: str, chars: Sequence[Mapping[str, float]], min_confidence: float, raw: tuple = ()
) -> OcrResult:
    """A plate-constrained decoder's text and per-character probabilities as a result: the confidence is
    the mean probability of the characters read; "" when nothing is read or the mean is under the floor."""
    probs = [c[ch.upper()] for ch, c in zip(text, chars, strict=True) if c]
    confidence = float(np.mean(probs)) if probs else 0.0
    raw = raw or ((text, confidence),)
    if not probs or confidence < min_confidence:
        return OcrResult(text="", confidence=0.0, raw=raw)
    return OcrResult(text=text, confidence=confidence, raw=raw, char_probs=tuple(chars))
