"""onnxruntime execution providers: from a device's gpu section to a session that really runs where asked.

onnxruntime-gpu lists CUDAExecutionProvider (and TensorRT's) whatever the machine has: the list is what the
wheel was built with. A session asked for CUDA on a machine without a GPU or without the CUDA libraries
logs an error and runs on the CPU. So the truth is the session's own ``get_providers()``: :func:`open_session`
reads it and refuses a CPU session that was asked to run on a GPU, unless the config allows the fallback.
Each model opened says in one log line which provider it got.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dashcam.vision.errors import BackendUnavailable, missing_runtime

log = logging.getLogger(__name__)

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"
GPU_PROVIDERS = frozenset({CUDA, TENSORRT})
# short names for logs and `dashcam models check`
SHORT = {CPU: "cpu", CUDA: "cuda", TENSORRT: "tensorrt"}


def gpu_providers(*, tensorrt: bool | None = None) -> list[str]:
    """Providers for a GPU box in order of preference: TensorRT's where TensorRT is installed, CUDA, CPU
    (CPU last: onnxruntime places the nodes the GPU providers cannot run there)."""
    if tensorrt is None:
        from dashcam.vision.tensorrt import tensorrt_version

        tensorrt = tensorrt_version() is not None
    return [TENSORRT, CUDA, CPU] if tensorrt else [CUDA, CPU]


def wants_gpu(providers: Sequence[str]) -> bool:
    """Whether a provider list asks for a GPU."""
    return any(p in GPU_PROVIDERS for p in providers)


@functools.cache
def load_gpu_libraries() -> bool:
    """Load the CUDA and cuDNN libraries of the nvidia-* wheels (the ones torch uses) before the first GPU
    session, so onnxruntime finds them without LD_LIBRARY_PATH; False when this onnxruntime cannot."""
    import onnxruntime as ort

    preload = getattr(ort, "preload_dlls", None)  # onnxruntime >= 1.21
    if preload is None:
        return False
    try:
        preload()
    except (OSError, RuntimeError) as exc:  # libraries missing: the session check below says what it got
        log.debug("onnxruntime.preload_dlls: %s", exc)
        return False
    return True


def provider_options(
    providers: Sequence[str], *, device_id: int = 0, engine_cache: Path | None = None
) -> list[str | tuple[str, dict[str, Any]]]:
    """The providers as onnxruntime takes them: GPU ones on ``device_id``; TensorRT's keeps its engines in
    ``engine_cache`` (built once per GPU and TensorRT version, see :mod:`dashcam.vision.tensorrt`)."""
    out: list[str | tuple[str, dict[str, Any]]] = []
    for p in providers:
        if p == TENSORRT:
            opts: dict[str, Any] = {"device_id": device_id, "trt_fp16_enable": True}
            if engine_cache is not None:
                opts |= {
                    "trt_engine_cache_enable": True,
                    "trt_engine_cache_path": str(engine_cache),
                    "trt_timing_cache_enable": True,
                    "trt_timing_cache_path": str(engine_cache),
                }
            out.append((p, opts))
        elif p == CUDA:
            out.append((p, {"device_id": device_id}))
        else:
            out.append(p)
    return out


def check_session(got: Sequence[str], wanted: Sequence[str], *, allow_cpu_fallback: bool, what: str) -> str:
    """The provider a session runs on (its first); a GPU asked for and not got is an error, or with
    ``allow_cpu_fallback`` a warning."""
    first = got[0] if got else CPU
    if wants_gpu(wanted) and first not in GPU_PROVIDERS:
        asked = ", ".join(p for p in wanted if p in GPU_PROVIDERS)
        reason = (
            f"{what}: {asked} asked for but the session runs on {first} (no CUDA device visible, or the CUDA "
            "and cuDNN libraries onnxruntime-gpu needs are missing: onnxruntime's own error is above)"
        )
        if not allow_cpu_fallback:
            raise BackendUnavailable(f"{reason}; fix the GPU, or set gpu.allow_cpu_fallback: true")
        log.warning("%s; running on the CPU (gpu.allow_cpu_fallback)", reason)
    return first


def open_session(
    path: Path,
    providers: Sequence[str],
    *,
    device_id: int = 0,
    allow_cpu_fallback: bool = False,
    num_threads: int | None = None,
    kind: str = "detector",
    name: str | None = None,
) -> Any:
    """An onnxruntime session on ``providers`` (GPU ones on ``device_id``), checked to run where asked.

    A provider this onnxruntime lacks altogether (the CPU build asked for CUDA) is a loud error, and so is
    onnxruntime itself missing. ``name`` is the model as the user knows it (``path`` may be a converted
    twin). :func:`session_provider` says where it runs.
    """
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise missing_runtime("onnxruntime", "onnxruntime", kind=kind) from exc
    name = name or path.name
    available = ort.get_available_providers()
    absent = [p for p in providers if p not in available]
    if absent:
        raise BackendUnavailable(
            f"{name}: onnxruntime here has no {', '.join(absent)} (available: {', '.join(available)}): "
            "install the [gpu] extra (onnxruntime-gpu) for CUDA/TensorRT, or configure "
            "providers: ['CPUExecutionProvider']"
        )
    engine_cache = None
    if wants_gpu(providers):
        load_gpu_libraries()
        if TENSORRT in providers:
            from dashcam.vision.tensorrt import engine_dir

            try:
                engine_cache = engine_dir(device_id)
            except BackendUnavailable:  # no GPU to key engines by: the session check below says so
                engine_cache = None
    opts = ort.SessionOptions()
    if num_threads:
        opts.intra_op_num_threads = num_threads
    session = ort.InferenceSession(
        str(path),
        sess_options=opts,
        providers=provider_options(providers, device_id=device_id, engine_cache=engine_cache),
    )
    got = check_session(
        session.get_providers(), providers, allow_cpu_fallback=allow_cpu_fallback, what=f"{kind} {name}"
    )
    log.info("%s %s runs on %s", kind, name, provider_name(got, device_id))
    return session


def provider_name(provider: str, device_id: int = 0) -> str:
    """'cuda:0', 'tensorrt:0' or 'cpu' for an onnxruntime provider name."""
    short = SHORT.get(provider, provider)
    return f"{short}:{device_id}" if provider in GPU_PROVIDERS else short


def session_provider(session: Any, device_id: int = 0) -> str:
    """Where an opened session runs: its first provider, as :func:`provider_name` writes it."""
    return provider_name(session.get_providers()[0], device_id)


def on_gpu(cfg: Any, *, device_id: int, max_batch_size: int, allow_cpu_fallback: bool) -> Any:
    """A copy of a detector or OCR config set to run on the GPU a device file's ``gpu`` section names.

    The onnxruntime detector and plate_onnx recogniser take TensorRT (where installed), CUDA and the CPU
    for the rest of the graph; rapidocr its engine's CUDA provider; EasyOCR its torch GPU. Other configs
    (ultralytics has its own ``for_gpu``, LiteRT has no GPU) come back unchanged.
    """
    from dashcam.vision.config import EasyOcrConfig, OnnxDetectorConfig, PlateOnnxOcrConfig, RapidOcrConfig

    common = {"device_id": device_id, "allow_cpu_fallback": allow_cpu_fallback, "max_batch": max_batch_size}
    if isinstance(cfg, OnnxDetectorConfig | PlateOnnxOcrConfig):
        return cfg.model_copy(update={"providers": gpu_providers(), **common})
    if isinstance(cfg, RapidOcrConfig):
        return cfg.model_copy(update={"providers": [CUDA, CPU], **common})
    if isinstance(cfg, EasyOcrConfig):
        return cfg.model_copy(update={"gpu": True})
    return cfg
