"""TensorRT engines, built on the device itself and kept under the models cache, keyed by GPU and TensorRT.

An engine is compiled for one GPU model and one TensorRT version and is useless (or refused) on another, so
engines are never shipped or committed: ``dashcam models export --tensorrt`` builds them on the box that runs
them, into ``<models cache>/tensorrt/<gpu name>-trt<version>/``. A new card or a TensorRT upgrade gives a
new key, hence a fresh folder and a rebuild; folders of other keys are removed when the new one is built.
The ONNX models' engines are onnxruntime TensorRT provider's engine cache in that folder; the YOLO model's
is ultralytics' ``.engine`` export, copied there under the weights' stem.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from dashcam.vision.errors import BackendUnavailable
from dashcam.vision.models import user_cache_dir

log = logging.getLogger(__name__)

_NVINFER = ("libnvinfer.so.10", "libnvinfer.so.11", "libnvinfer.so", "nvinfer_10.dll", "nvinfer.dll")


@functools.cache
def tensorrt_version() -> str | None:
    """The installed TensorRT's version (the Python package, else the libnvinfer library), None without."""
    try:
        import tensorrt  # type: ignore[import-not-found]

        return str(tensorrt.__version__)
    except ImportError:
        pass
    for name in _NVINFER:
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        # NV_TENSORRT_VERSION: major * 10000 + minor * 100 + patch (TensorRT 10 and later)
        v = int(lib.getInferLibVersion())
        return f"{v // 10000}.{v // 100 % 100}.{v % 100}"
    return None


def gpu_name(device_id: int = 0) -> str | None:
    """The CUDA device's name (e.g. 'NVIDIA GeForce RTX 4090'), None when there is none to ask."""
    torch: Any = sys.modules.get("torch")
    if torch is None:  # nvidia-smi first: importing torch for a name takes seconds
        try:
            out = subprocess.run(
                ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader", f"--id={device_id}"],
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            )
            return out.stdout.strip().splitlines()[0] or None
        except (OSError, subprocess.SubprocessError, IndexError):
            pass
        try:
            import torch as torch_module
        except ImportError:
            return None
        torch = torch_module
    if not torch.cuda.is_available() or device_id >= torch.cuda.device_count():
        return None
    return str(torch.cuda.get_device_name(device_id))


def engine_key(gpu: str, trt_version: str) -> str:
    """The folder name of a GPU + TensorRT pair: 'nvidia-geforce-rtx-4090-trt10.9.0'."""
    slug = re.sub(r"[^a-z0-9]+", "-", gpu.lower()).strip("-") or "gpu"
    version = re.sub(r"[^0-9A-Za-z.]+", "-", trt_version)
    return f"{slug}-trt{version}"


def engines_root() -> Path:
    """Where every key's engine folder lives: under the models cache, never in the repository."""
    return user_cache_dir() / "tensorrt"


def current_key(device_id: int = 0) -> str:
    """This machine's key for ``device_id``; a one-line error without TensorRT or without that GPU."""
    version = tensorrt_version()
    if version is None:
        raise BackendUnavailable(
            "TensorRT is not installed here: install it (pip install tensorrt, or NVIDIA's packages) on the "
            "GPU box to build engines; the models run on CUDA without them"
        )
    name = gpu_name(device_id)
    if name is None:
        raise BackendUnavailable(
            f"no CUDA device {device_id} here: engines are built on the GPU that runs them"
        )
    return engine_key(name, version)


def engine_dir(device_id: int = 0, *, create: bool = True) -> Path:
    """This machine's engine folder for ``device_id`` (see :func:`current_key`)."""
    path = engines_root() / current_key(device_id)
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def prune_other_keys(keep: Path) -> list[Path]:
    """Remove the engine folders of other GPUs or TensorRT versions (stale: they would never load here)."""
    removed = []
    for d in keep.parent.iterdir() if keep.parent.is_dir() else ():
        if d.is_dir() and d != keep:
            shutil.rmtree(d)
            removed.append(d)
    return removed


def built_engine(weights: Path, device_id: int = 0) -> Path | None:
    """The engine exported for these weights under this machine's key, if there is one (quietly None when
    TensorRT or the GPU is missing: the weights then run as they are)."""
    if tensorrt_version() is None:
        return None
    try:
        path = engine_dir(device_id, create=False) / f"{weights.stem}.engine"
    except BackendUnavailable:
        return None
    return path if path.is_file() else None


def export_engines(
    configs: dict[str, Any], *, device_id: int, max_batch: int, models_dir: Any = None
) -> list[str]:
    """Build this machine's engines for the stage models ``configs`` (role -> config, TensorRT providers
    set, see :func:`dashcam.vision.placement.device_configs`); one line per model says what was done.

    Raises :class:`BackendUnavailable` (one line) without TensorRT or without the GPU.
    """
    from dashcam.vision.config import OnnxDetectorConfig, PlateOnnxOcrConfig, UltralyticsDetectorConfig
    from dashcam.vision.providers import TENSORRT

    folder = engine_dir(device_id)
    lines = [f"removed stale engines {d.name}" for d in prune_other_keys(folder)]
    for role, cfg in configs.items():
        if isinstance(cfg, UltralyticsDetectorConfig) and cfg.device.startswith("cuda"):
            lines.append(f"{role}: {_export_yolo(cfg, folder, device_id, max_batch, models_dir)}")
        elif isinstance(cfg, OnnxDetectorConfig | PlateOnnxOcrConfig) and TENSORRT in cfg.providers:
            from dashcam.vision.detectors import build_detector
            from dashcam.vision.ocr.registry import build_ocr

            # onnxruntime's TensorRT provider builds the engine on the first run (load() warms up) and
            # keeps it in the folder its options name (dashcam.vision.providers.provider_options)
            model: Any = (
                build_ocr(cfg, models_dir=models_dir)
                if isinstance(cfg, PlateOnnxOcrConfig)
                else build_detector(cfg, models_dir=models_dir)
            )
            model.load()
            lines.append(f"{role}: engine cache in {folder} (runs on {model.provider})")
        else:
            lines.append(f"{role}: no TensorRT engine ({cfg.type} runs as configured)")
    return lines


def _export_yolo(cfg: Any, folder: Path, device_id: int, max_batch: int, models_dir: Any) -> str:
    """ultralytics' engine export of the weights, done on a copy inside the engine folder (the models folder
    may be read-only, a container's /models) and kept as <stem>.engine."""
    from dashcam.vision.models import resolve_any

    weights = resolve_any(cfg.model, models_dir=models_dir)
    dest = folder / f"{weights.stem}.engine"
    if dest.is_file():
        return f"{dest} already built for this key"
    if weights.suffix != ".pt":
        return f"{weights.name} is not PyTorch weights: no engine export"
    from ultralytics import YOLO

    work = folder / weights.name
    shutil.copy2(weights, work)
    try:
        made = YOLO(str(work), task="detect").export(
            format="engine",
            device=device_id,
            half=True,
            dynamic=max_batch > 1,
            batch=max_batch,
            imgsz=cfg.imgsz or 640,
        )
        Path(made).replace(dest)
    finally:
        for leftover in (work, work.with_suffix(".onnx")):
            leftover.unlink(missing_ok=True)
    return f"built {dest}"
