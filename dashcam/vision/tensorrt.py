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
    torch = sys.modules.get("torch")
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
            import torch
        except ImportError:
            return None
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
