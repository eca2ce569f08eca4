"""Plain result types the vision backends return."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dashcam.vision.boxes import iou


@dataclass(frozen=True)
class Detection:
    """One box in original-frame pixel coordinates (x1, y1 top-left; x2, y2 bottom-right)."""

    x1: float
    y1: float
    x2: float
    y2: float
    score: float
    label: str
    class_id: int

    @property
    def width(self) -> float:
        """Box width in pixels."""
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        """Box height in pixels."""
        return self.y2 - self.y1

    @property
    def xyxy(self) -> tuple[float, float, float, float]:
        """The box as (x1, y1, x2, y2)."""
        return (self.x1, self.y1, self.x2, self.y2)

    def iou(self, other: Detection | tuple[float, float, float, float]) -> float:
        """Intersection over union with another box."""
        return iou(self.xyxy, other.xyxy if isinstance(other, Detection) else other)


@dataclass(frozen=True)
class OcrResult:
    """Text read from one crop: the joined text, its confidence (0..1) and the backend's raw pieces.

    ``char_probs`` is empty unless the backend decodes per character (rapidocr's plate-constrained decoding):
    then it holds one mapping per character of ``text``, plate character (A-Z0-9) -> probability, empty for
    a separator.
    """

    text: str
    confidence: float
    raw: tuple[Any, ...] = field(default=(), compare=False)
    char_probs: tuple[Mapping[str, float], ...] = field(default=(), compare=False)
