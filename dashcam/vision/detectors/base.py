"""The detector interface every backend implements."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar, Generic, TypeVar

import numpy as np

from dashcam.vision.models import resolve_any
from dashcam.vision.types import Detection

log = logging.getLogger(__name__)

C = TypeVar("C")


class Detector(ABC, Generic[C]):
    """Load once, warm up, then detect batches of BGR frames."""

    backend: ClassVar[str]

    def __init__(self, cfg: C, *, models_dir: str | Path | None = None) -> None:
        self.cfg = cfg
        self.models_dir = models_dir
        self.names: dict[int, str] = {}
        self.model_path: Path | None = None
        # where the loaded model runs ('cpu', 'cuda:0', 'tensorrt:0', 'edgetpu'), for logs and `models check`
        self.provider: str | None = None
        self._loaded = False

    def resolve(self, name: str | list[str]) -> Path:
        """A model entry of the config (or its first present alternative) as a file path."""
        return resolve_any(name, models_dir=self.models_dir)

    def keep_class_ids(self) -> set[int] | None:
        """Class ids the config's ``classes`` keeps (None: all); unknown names are an error."""
        wanted = getattr(self.cfg, "classes", None)
        if wanted is None:
            return None
        by_name = {n: i for i, n in self.names.items()}
        unknown = [n for n in wanted if n not in by_name]
        if unknown:
            raise ValueError(f"classes {unknown} are not in the model's labels ({len(by_name)} classes)")
        return {by_name[n] for n in wanted}

    @property
    def loaded(self) -> bool:
        """Whether load() has run."""
        return self._loaded

    @abstractmethod
    def load(self) -> None:
        """Import the runtime, load the model and warm it up."""

    @abstractmethod
    def _detect(self, frames: Sequence[np.ndarray]) -> list[list[Detection]]:
        """Backend inference on loaded model."""

    def warmup(self) -> None:
        """Run one blank frame through the model (first inferences allocate and compile)."""
        self._detect([np.zeros((480, 640, 3), dtype=np.uint8)])

    def detect(self, frames: Sequence[np.ndarray]) -> list[list[Detection]]:
        """Detections for each BGR frame, in original-frame pixel coordinates."""
        if not self._loaded:
            self.load()
        if not frames:
            return []
        return self._detect(frames)
