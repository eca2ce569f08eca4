"""onnxruntime providers from the gpu section, the check of what a session really got, and batch splitting.

This machine has onnxruntime-gpu (the [gpu] extra) and no CUDA device, so asking for CUDA is the real thing:
onnxruntime lists the provider, fails to start it, and hands back a CPU session. Only where a test needs a
session that *did* get CUDA is CUDA's presence faked: ``_FakeCudaSession`` is a real CPU session that reports
CUDAExecutionProvider, and each such test says so.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from dashcam.vision import providers, tensorrt
from dashcam.vision.batching import batch_step, run_batched
from dashcam.vision.config import OnnxDetectorConfig, PlateOnnxOcrConfig, RapidOcrConfig
from dashcam.vision.detectors import build_detector
from dashcam.vision.errors import BackendUnavailable
from dashcam.vision.ocr.rapidocr import _rapidocr_params
from dashcam.vision.ocr.registry import build_ocr
from dashcam.vision.providers import CPU, CUDA, TENSORRT, on_gpu
from tests.support import model_file, testdata_file
from tests.vision.ocr.test_plate_onnx import _config, _crop, _model

PLATE_ONNX = "license_plate_detector_int8.onnx"


def _cuda_device_present() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


@pytest.fixture
def no_cuda_device() -> None:
    """These tests show what happens on a machine without a GPU: meaningless on one that has a GPU."""
    import onnxruntime

    if CUDA not in onnxruntime.get_available_providers():
        pytest.fail("the [gpu]/[ocr] extra should install onnxruntime-gpu on this platform", pytrace=False)
    if _cuda_device_present():
        pytest.skip("a CUDA device is present: tests/gpu checks the real CUDA run")


def _gpu(cfg: Any, *, device_id: int = 0, fallback: bool = False, batch: int = 4) -> Any:
    return on_gpu(cfg, device_id=device_id, max_batch_size=batch, allow_cpu_fallback=fallback)


@pytest.fixture
def frames() -> list[np.ndarray]:
    folder = testdata_file("video/highway/test_images")
    return [cv2.imread(str(p)) for p in sorted(folder.glob("test*.jpg"))][:5]


# ------------------------------------------------------------------ the gpu section -> providers


def test_on_gpu_sets_every_onnx_model_to_the_device(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tensorrt, "tensorrt_version", lambda: None)
    det = _gpu(OnnxDetectorConfig(), device_id=1, batch=8)
    assert (det.providers, det.device_id, det.max_batch, det.allow_cpu_fallback) == ([CUDA, CPU], 1, 8, False)
    rec = _gpu(PlateOnnxOcrConfig(), device_id=1, fallback=True)
    assert (rec.providers, rec.device_id, rec.allow_cpu_fallback) == ([CUDA, CPU], 1, True)
    rapid = _gpu(RapidOcrConfig(), device_id=2)
    assert _rapidocr_params(rapid)["EngineConfig.onnxruntime.use_cuda"] is True
    assert _rapidocr_params(rapid)["EngineConfig.onnxruntime.cuda_ep_cfg.device_id"] == 2
    assert "EngineConfig.onnxruntime.use_cuda" not in _rapidocr_params(RapidOcrConfig())


def test_tensorrt_comes_first_where_installed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """TensorRT's presence is faked (it is not installed here): only the provider list is checked."""
    monkeypatch.setattr(tensorrt, "tensorrt_version", lambda: "10.9.0")
    assert _gpu(OnnxDetectorConfig()).providers == [TENSORRT, CUDA, CPU]
    opts = providers.provider_options([TENSORRT, CUDA, CPU], device_id=3, engine_cache=tmp_path)
    trt, cuda, cpu = opts
    assert trt[0] == TENSORRT and trt[1]["device_id"] == 3
    assert trt[1]["trt_engine_cache_enable"] is True and trt[1]["trt_engine_cache_path"] == str(tmp_path)
    assert cuda == (CUDA, {"device_id": 3}) and cpu == CPU


# ------------------------------------------------------------------ what the session really got


def test_cuda_without_a_device_is_an_error_naming_the_model(no_cuda_device: None) -> None:
    cfg = _gpu(OnnxDetectorConfig(model=str(model_file(PLATE_ONNX))))
    with pytest.raises(BackendUnavailable) as err:
        build_detector(cfg).load()
    msg = str(err.value)
    assert "\n" not in msg
    assert PLATE_ONNX in msg and "CUDAExecutionProvider" in msg and "gpu.allow_cpu_fallback" in msg


def test_allowed_fallback_runs_on_the_cpu_with_the_same_boxes(
    no_cuda_device: None, frames: list[np.ndarray], caplog: pytest.LogCaptureFixture
) -> None:
    cpu = build_detector(OnnxDetectorConfig(model=str(model_file(PLATE_ONNX))))
    cpu.load()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="dashcam.vision"):
        fell_back = build_detector(_gpu(cpu.cfg, fallback=True))
        fell_back.load()
    assert fell_back.provider == "cpu"
    lines = [r for r in caplog.records if PLATE_ONNX in r.getMessage()]
    assert [r.levelname for r in lines] == ["WARNING", "INFO"]  # the fallback, then where it runs
    assert lines[1].getMessage() == f"detector {PLATE_ONNX} runs on cpu"
    assert fell_back.detect(frames) == cpu.detect(frames)


def test_rapidocr_asked_for_cuda_without_a_device(no_cuda_device: None) -> None:
    with pytest.raises(BackendUnavailable, match=r"OCR backend rapidocr: CUDAExecutionProvider asked for"):
        build_ocr(_gpu(RapidOcrConfig())).load()
    ocr = build_ocr(_gpu(RapidOcrConfig(), fallback=True))
    ocr.load()
    assert ocr.provider == "cpu"


def test_plate_recogniser_asked_for_cuda_without_a_device(no_cuda_device: None, tmp_path: Path) -> None:
    model = _model(tmp_path / "tiny_plate.onnx", 3)
    _config(tmp_path / "tiny_plate_plate_config.yaml")
    with pytest.raises(BackendUnavailable, match=r"OCR backend tiny_plate.onnx: CUDAExecutionProvider"):
        build_ocr(_gpu(PlateOnnxOcrConfig(model=str(model)))).load()


import onnxruntime  # noqa: E402

_RealSession = onnxruntime.InferenceSession


class _FakeCudaSession:
    """CUDA's presence faked: a real CPU session that reports CUDAExecutionProvider first and records the
    providers it was asked for."""

    asked: list[Any] = []

    def __init__(self, path: str, sess_options: Any = None, providers: Any = None) -> None:
        _FakeCudaSession.asked.append(providers)
        self._real = _RealSession(path, sess_options=sess_options, providers=[CPU])

    def get_providers(self) -> list[str]:
        return [CUDA, CPU]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def test_a_session_on_cuda_is_used_and_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """CUDA's presence is faked (no GPU here): the session reports CUDA while running on the CPU."""
    import onnxruntime

    monkeypatch.setattr(tensorrt, "tensorrt_version", lambda: None)
    monkeypatch.setattr(onnxruntime, "InferenceSession", _FakeCudaSession)
    _FakeCudaSession.asked.clear()
    with caplog.at_level(logging.INFO, logger="dashcam.vision"):
        det = build_detector(_gpu(OnnxDetectorConfig(model=str(model_file(PLATE_ONNX))), device_id=1))
        det.load()
    assert _FakeCudaSession.asked == [[(CUDA, {"device_id": 1}), CPU]]
    assert det.provider == "cuda:1"
    assert [r.getMessage() for r in caplog.records if r.name == "dashcam.vision.providers"] == [
        f"detector {PLATE_ONNX} runs on cuda:1"
    ]


def test_cpu_build_asked_for_cuda_is_loud(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CPU build of onnxruntime (what the [ocr] extra installs off x86-64) has no CUDA provider at all."""
    import onnxruntime

    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: [CPU])
    with pytest.raises(BackendUnavailable, match=r"onnxruntime here has no CUDAExecutionProvider"):
        providers.open_session(model_file(PLATE_ONNX), [CUDA, CPU])


# ------------------------------------------------------------------ batches


def test_batch_step() -> None:
    assert batch_step(10, max_batch=None, fixed=None) == 10
    assert batch_step(10, max_batch=4, fixed=None) == 4
    assert batch_step(3, max_batch=8, fixed=None) == 3
    assert batch_step(10, max_batch=8, fixed=1) == 1  # a fixed batch axis wins over the device's limit


@pytest.mark.parametrize(
    ("max_batch", "fixed", "calls"), [(None, None, [7]), (3, None, [3, 3, 1]), (None, 4, [4, 4])]
)
def test_run_batched_splits_and_rejoins_in_order(
    max_batch: int | None, fixed: int | None, calls: list[int]
) -> None:
    seen: list[int] = []

    def run(b: np.ndarray) -> np.ndarray:
        seen.append(len(b))
        return b[:, :1] * 10

    items = np.arange(7 * 2).reshape(7, 2)
    out = run_batched(items, run, max_batch=max_batch, fixed=fixed)
    assert seen == calls
    assert out[:, 0].tolist() == [row[0] * 10 for row in items.tolist()]


def test_a_fixed_batch_axis_wins_over_max_batch(
    frames: list[np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plate detector is exported for batch 1: five frames make five calls, whatever max_batch says."""
    whole = build_detector(OnnxDetectorConfig(model=str(model_file(PLATE_ONNX))))
    split = build_detector(OnnxDetectorConfig(model=str(model_file(PLATE_ONNX)), max_batch=2))
    split.load()
    sizes: list[int] = []
    real_run = split._session.run
    monkeypatch.setattr(
        split._session,
        "run",
        lambda out, feed: sizes.append(len(next(iter(feed.values())))) or real_run(out, feed),
    )
    assert split.detect(frames) == whole.detect(frames)
    assert sizes == [1, 1, 1, 1, 1]


def test_plate_recogniser_batches_give_the_same_reads(tmp_path: Path) -> None:
    model = _model(tmp_path / "tiny_plate.onnx", 3)
    _config(tmp_path / "tiny_plate_plate_config.yaml")
    red, blue = _crop((0, 0, 255)), _crop((255, 0, 0))
    crops = [red, blue, blue, red, blue, red, red]
    whole = build_ocr(PlateOnnxOcrConfig(model=str(model))).read(crops)
    split = build_ocr(PlateOnnxOcrConfig(model=str(model), max_batch=3)).read(crops)
    assert (
        [r.text for r in split]
        == [r.text for r in whole]
        == ["XY7Z" if c is red else "AB1C234" for c in crops]
    )


def test_tensorrt_without_a_gpu_falls_back_when_allowed(
    no_cuda_device: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TensorRT's presence is faked (not installed here); with no GPU to key its engines by, the session
    check decides, as for CUDA."""
    monkeypatch.setattr(tensorrt, "tensorrt_version", lambda: "10.9.0")
    monkeypatch.setattr(tensorrt, "gpu_name", lambda device_id=0: None)
    det = build_detector(_gpu(OnnxDetectorConfig(model=str(model_file(PLATE_ONNX))), fallback=True))
    assert det.cfg.providers == [TENSORRT, CUDA, CPU]
    det.load()
    assert det.provider == "cpu"
