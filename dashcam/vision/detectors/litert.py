"""YOLO TFLite models through ai-edge-litert: the Jetson's runtime (no torch), with the Coral Edge TPU."""

from __future__ import annotations

import ctypes
import logging
import os
import platform
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dashcam.vision import labels, yolo_decode
from dashcam.vision.config import LiteRTDetectorConfig
from dashcam.vision.detectors.base import Detector
from dashcam.vision.errors import EdgeTpuUnavailable, missing_runtime
from dashcam.vision.types import Detection

log = logging.getLogger(__name__)

EDGETPU_LIB = {"Darwin": "libedgetpu.1.dylib", "Windows": "edgetpu.dll"}.get(
    platform.system(), "libedgetpu.so.1"
)
_USB_DEV = re.compile(r"/dev/bus/usb/(\d+)/(\d+)")


def is_edgetpu_model(path: str | Path) -> bool:
    """Whether a TFLite file was compiled for the Edge TPU (by the compiler's naming rule)."""
    return str(path).endswith("_edgetpu.tflite")


def edgetpu_device_option(device: str) -> str:
    """The delegate's ``device`` option: a /dev/bus/usb/BUS/DEV path becomes its sysfs path."""
    match = _USB_DEV.fullmatch(device)
    if not match:
        return device
    bus, dev = int(match.group(1)), int(match.group(2))
    for sysdir in Path("/sys/bus/usb/devices").glob("*"):
        try:
            if int((sysdir / "busnum").read_text()) == bus and int((sysdir / "devnum").read_text()) == dev:
                return str(sysdir)
        except (OSError, ValueError):
            continue
    return device


def open_edgetpu(load_delegate: Any, device: str | None) -> Any:
    """The Edge TPU delegate, or EdgeTpuUnavailable saying what is missing."""
    try:
        # Probe the library ourselves: ai-edge-litert's Delegate raises a second error from __del__ otherwise.
        ctypes.CDLL(EDGETPU_LIB)
    except OSError as exc:
        raise EdgeTpuUnavailable(
            f"Edge TPU runtime {EDGETPU_LIB} not found: install libedgetpu1-std, or configure the CPU model "
            "(litert fallback_model, e.g. yolov8n_full_integer_quant.tflite)"
        ) from exc
    options = {"device": edgetpu_device_option(device)} if device else {}
    try:
        return load_delegate(EDGETPU_LIB, options)
    except ValueError as exc:
        where = f"at {device!r}" if device else "attached"
        raise EdgeTpuUnavailable(
            f"no Edge TPU {where}: plug it in and check coral.device_path ('usb', 'usb:0', 'pci:0' or a "
            "/dev/bus/usb path), or configure the CPU model (litert fallback_model)"
        ) from exc


class LiteRTDetector(Detector[LiteRTDetectorConfig]):
    """A YOLO detect export (.tflite or _edgetpu.tflite) run by ai-edge-litert."""

    backend = "litert"

    def __init__(self, cfg: LiteRTDetectorConfig, **kwargs: Any) -> None:
        super().__init__(cfg, **kwargs)
        self.on_edgetpu = False
        self._interp: Any = None

    def load(self) -> None:
        """Open the interpreter (on the Edge TPU when the model asks for it) and warm it up."""
        try:
            from ai_edge_litert.interpreter import Interpreter, load_delegate
        except ImportError as exc:
            raise missing_runtime("litert", "ai-edge-litert") from exc
        path = self.resolve(self.cfg.model)
        delegates: list[Any] = []
        if is_edgetpu_model(path):
            try:
                delegates = [open_edgetpu(load_delegate, self.cfg.edgetpu_device)]
            except EdgeTpuUnavailable as exc:
                if not self.cfg.fallback_model:
                    raise
                cpu = self.resolve(self.cfg.fallback_model)
                log.warning("no Edge TPU: running %s on CPU (%s)", cpu.name, exc)
                path = cpu
        self.on_edgetpu = bool(delegates)
        self.provider = "edgetpu" if delegates else "cpu"
        # LiteRT's own default is one thread on these CPUs: every core is ~1.7x faster on 2 cores
        threads = self.cfg.num_threads or os.cpu_count() or 1
        self._interp = Interpreter(
            model_path=str(path), experimental_delegates=delegates or None, num_threads=threads
        )
        self._interp.allocate_tensors()
        self._in = self._interp.get_input_details()[0]
        self._out = self._interp.get_output_details()[0]
        if int(self._in["shape"][-1]) != 3:
            raise ValueError(
                f"{path.name}: expected an NHWC input [1, H, W, 3], got {list(self._in['shape'])}"
            )
        self.input_size = (int(self._in["shape"][1]), int(self._in["shape"][2]))
        meta = labels.tflite_metadata(path)
        self.names = labels.names_for_tflite(path)
        self.end2end = str(meta.get("end2end", False)) == "True"
        self.keep = self.keep_class_ids()
        self.model_path = path
        self._loaded = True
        # First invocations allocate arenas and (on the TPU) upload the model: keep that out of frame timing.
        self.warmup()
        log.info("litert detector %s loaded (%s)", path.name, "Edge TPU" if self.on_edgetpu else "CPU")

    def _detect(self, frames: Sequence[np.ndarray]) -> list[list[Detection]]:
        in_q = self._in["quantization"]
        out_scale, out_zp = self._out["quantization"]
        results = []
        for frame in frames:  # the exports have a fixed batch of 1
            img, box = yolo_decode.letterbox(frame, self.input_size)
            x = yolo_decode.to_input(img, nchw=False, dtype=np.dtype(self._in["dtype"]), quant=in_q)
            self._interp.set_tensor(self._in["index"], x)
            self._interp.invoke()
            raw = self._interp.get_tensor(self._out["index"])[0]
            if not self.end2end and out_scale > 0 and np.issubdtype(raw.dtype, np.integer):
                # keep only the anchors whose best class can reach the threshold, compared in the
                # integer domain (the scale is positive, so the order is the same): dequantizing all
                # 84 x 8400 values per frame cost more than the rest of the decoding
                cols = yolo_decode.channels_first(raw, len(self.names))
                floor = np.ceil(self.cfg.conf / out_scale + out_zp)
                raw = cols[:, cols[4:].max(axis=0) >= floor]
            pred = yolo_decode.dequantize(raw, out_scale, out_zp)
            boxes, scores, ids = yolo_decode.decode_yolo(
                pred,
                input_size=self.input_size,
                conf=self.cfg.conf,
                iou=self.cfg.iou,
                num_classes=None if self.end2end else len(self.names),
                normalized=True,  # ultralytics' TFLite exports give boxes in 0..1 of the input
                end2end=self.end2end,
                keep_classes=self.keep,
                max_det=self.cfg.max_detections,
            )
            results.append(
                yolo_decode.to_detections(
                    boxes, scores, ids, names=self.names, box=box, frame_shape=frame.shape
                )
            )
        return results
