"""Any model file ultralytics loads (.pt, .onnx, .engine, .tflite), on the CPU or a CUDA GPU."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from dashcam.vision.config import UltralyticsDetectorConfig
from dashcam.vision.detectors.base import Detector
from dashcam.vision.errors import BackendUnavailable, missing_runtime
from dashcam.vision.types import Detection

log = logging.getLogger(__name__)


def _check_cuda(device: str) -> None:
    """A configured cuda:N that torch cannot see is an error, not a silent CPU run."""
    if not device.startswith("cuda"):
        return
    import torch

    index = int(device.split(":", 1)[1])
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if index >= count:
        raise BackendUnavailable(
            f"device {device} requested but torch sees {count} CUDA GPU(s) (torch {torch.__version__}): "
            "check the driver and gpu.device_id, or set device: cpu"
        )


class UltralyticsDetector(Detector[UltralyticsDetectorConfig]):
    """ultralytics.YOLO behind the Detector interface, batched by ``batch_size``."""

    backend = "ultralytics"

    def __init__(self, cfg: UltralyticsDetectorConfig, **kwargs: Any) -> None:
        super().__init__(cfg, **kwargs)
        self._model: Any = None

    def load(self) -> None:
        """Load the model file (never a download) and warm it up."""
        # Read by ultralytics at import: no hub downloads, no pip installs of missing export runtimes.
        os.environ.setdefault("YOLO_OFFLINE", "1")
        # ultralytics logs to stdout, which belongs to the CLI's --json output: keep it quiet
        os.environ.setdefault("YOLO_VERBOSE", "False")
        os.environ.setdefault("YOLO_AUTOINSTALL", "False")
        # Resolve first: a bare "yolov8n.pt" that ultralytics cannot find would otherwise be downloaded.
        path = self.resolve(self.cfg.model)
        try:
            from ultralytics import YOLO
        except ImportError as exc:
            raise missing_runtime("ultralytics", "ultralytics (and torch)") from exc
        _check_cuda(self.cfg.device)
        run = path
        if self.cfg.device.startswith("cuda") and path.suffix == ".pt":
            from dashcam.vision.tensorrt import built_engine

            # `dashcam models export --tensorrt` built one for this GPU and TensorRT: it runs instead
            run = built_engine(path, int(self.cfg.device.split(":", 1)[1])) or path
        self._model = YOLO(str(run), task="detect")
        self.names = {int(k): str(v) for k, v in self._model.names.items()}
        self.keep = self.keep_class_ids()
        self.model_path = path
        self._loaded = True
        # The first predict builds the predictor, moves weights to the device and compiles kernels.
        self.provider = self.cfg.device if run == path else f"tensorrt:{self.cfg.device.split(':', 1)[1]}"
        self.warmup()
        log.info("ultralytics detector %s runs on %s", run.name, self.provider)

    def _detect(self, frames: Sequence[np.ndarray]) -> list[list[Detection]]:
        results: list[list[Detection]] = []
        step = self.cfg.batch_size
        for start in range(0, len(frames), step):
            chunk = list(frames[start : start + step])
            kwargs: dict[str, Any] = {}
            if self.cfg.imgsz:
                kwargs["imgsz"] = self.cfg.imgsz
            if self.cfg.half:  # passing half=False warns about a deprecation in ultralytics 8.4
                kwargs["half"] = True
            preds = self._model.predict(
                chunk,
                conf=self.cfg.conf,
                iou=self.cfg.iou,
                device=self.cfg.device,
                classes=sorted(self.keep) if self.keep is not None else None,
                max_det=self.cfg.max_detections,
                batch=step,
                verbose=False,
                **kwargs,
            )
            for pred in preds:
                xyxy = pred.boxes.xyxy.cpu().numpy()
                scores = pred.boxes.conf.cpu().numpy()
                ids = pred.boxes.cls.cpu().numpy().astype(int)
                results.append(
                    [
                        Detection(
                            x1=float(b[0]),
                            y1=float(b[1]),
                            x2=float(b[2]),
                            y2=float(b[3]),
                            score=float(s),
                            label=self.names.get(int(c), str(int(c))),
                            class_id=int(c),
                        )
                        for b, s, c in zip(xyxy, scores, ids, strict=True)
                    ]
                )
        return results
