"""YOLO ONNX models through onnxruntime with the configured execution providers."""

from __future__ import annotations

import ast
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dashcam.vision import labels, yolo_decode
from dashcam.vision.batching import run_batched
from dashcam.vision.config import OnnxDetectorConfig
from dashcam.vision.detectors.base import Detector
from dashcam.vision.providers import open_session, session_provider
from dashcam.vision.types import Detection

__all__ = ["OnnxDetector", "open_session"]

log = logging.getLogger(__name__)

_ORT_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(uint8)": np.uint8}


class OnnxDetector(Detector[OnnxDetectorConfig]):
    """A YOLO detect export (.onnx, NCHW input) run by onnxruntime."""

    backend = "onnxruntime"

    def __init__(self, cfg: OnnxDetectorConfig, **kwargs: Any) -> None:
        super().__init__(cfg, **kwargs)
        self._session: Any = None
        self.run_path: Path | None = None  # the file the session runs (a float32 twin, or the model)

    def load(self) -> None:
        """Open the inference session and warm it up."""
        path = self.resolve(self.cfg.model)
        self.run_path = self._float_twin(path) if self.cfg.dequantize else path
        self._session = open_session(
            self.run_path,
            self.cfg.providers,
            num_threads=self.cfg.num_threads,
            device_id=self.cfg.device_id,
            allow_cpu_fallback=self.cfg.allow_cpu_fallback,
            name=path.name,
        )
        self.provider = session_provider(self._session, self.cfg.device_id)
        inp = self._session.get_inputs()[0]
        self._input_name = inp.name
        shape = inp.shape
        meta = self._session.get_modelmeta().custom_metadata_map
        if isinstance(shape[2], int) and isinstance(shape[3], int):
            self.input_size = (shape[2], shape[3])
        else:  # dynamic spatial axes: the size it was exported for
            size = ast.literal_eval(meta.get("imgsz", "[640, 640]"))
            self.input_size = (int(size[0]), int(size[1]))
        self._dtype = np.dtype(_ORT_DTYPES.get(inp.type, np.float32))
        self._fixed_batch = shape[0] if isinstance(shape[0], int) and shape[0] > 0 else None
        self.names = labels.names_for_onnx(meta, path)
        self.end2end = meta.get("end2end", "False") == "True"
        self.keep = self.keep_class_ids()
        self.model_path = path
        self._loaded = True
        # The first run allocates buffers and picks kernels (TensorRT builds its engine): do it now.
        self.warmup()

    @staticmethod
    def _float_twin(path: Path) -> Path:
        """The cached float32 twin of a dynamic-int8 model; the model itself when it is not one or fails."""
        from dashcam.vision.onnx_float import DequantizeError, float_model_path, looks_dynamic_int8

        try:
            return float_model_path(path) if looks_dynamic_int8(path) else path
        except ImportError:
            log.warning(
                "%s is dynamic-int8 and runs several times slower than its float32 twin: install the onnx "
                "package to convert it (or set dequantize: false)",
                path.name,
            )
        except (DequantizeError, OSError, ValueError) as exc:
            log.warning("could not dequantize %s, running the int8 model: %s", path.name, exc)
        return path

    def _detect(self, frames: Sequence[np.ndarray]) -> list[list[Detection]]:
        boxes_info = []
        tensors = []
        for frame in frames:
            img, box = yolo_decode.letterbox(frame, self.input_size)
            tensors.append(yolo_decode.to_input(img, nchw=True, dtype=self._dtype))
            boxes_info.append(box)
        out = run_batched(
            np.concatenate(tensors),
            lambda b: self._session.run(None, {self._input_name: b})[0],
            max_batch=self.cfg.max_batch,
            fixed=self._fixed_batch,
        )
        results: list[list[Detection]] = []
        for i, frame in enumerate(frames):
            boxes, scores, ids = yolo_decode.decode_yolo(
                out[i].astype(np.float32),
                input_size=self.input_size,
                conf=self.cfg.conf,
                iou=self.cfg.iou,
                num_classes=None if self.end2end else len(self.names),
                end2end=self.end2end,
                keep_classes=self.keep,
                max_det=self.cfg.max_detections,
            )
            results.append(
                yolo_decode.to_detections(
                    boxes, scores, ids, names=self.names, box=boxes_info[i], frame_shape=frame.shape
                )
            )
        return results
