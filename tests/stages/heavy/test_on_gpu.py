"""The heavy stage puts its ONNX models on the GPU a device file's gpu section names.

No CUDA device exists here: the section's models really fail to get CUDA (onnxruntime-gpu hands back a CPU
session), which the stage refuses unless gpu.allow_cpu_fallback allows it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dashcam.stages.context import StageContext
from dashcam.stages.heavy.record import plate_reader
from dashcam.vision.errors import BackendUnavailable
from dashcam.vision.providers import CUDA
from flows.common import reset_context


def _ctx(cfg_dir: Path, monkeypatch: pytest.MonkeyPatch, **gpu: object) -> StageContext:
    (cfg_dir / "devices" / "rtx.json").write_text(json.dumps({"device_type": "rtx_4090", "gpu": gpu}))
    monkeypatch.setenv("DASHCAM_DEVICE", "rtx")
    reset_context()
    return StageContext.load()


@pytest.fixture
def no_cuda_device() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present: tests/gpu runs the stage on it")


def test_gpu_section_without_a_gpu_stops_the_stage(
    pipeline_env: Path, monkeypatch: pytest.MonkeyPatch, no_cuda_device: None
) -> None:
    ctx = _ctx(pipeline_env, monkeypatch, device_id=0, max_batch_size=8)
    with pytest.raises(BackendUnavailable, match="gpu.allow_cpu_fallback"):
        plate_reader(ctx)


def test_gpu_section_sets_providers_and_batches(
    pipeline_env: Path, monkeypatch: pytest.MonkeyPatch, no_cuda_device: None
) -> None:
    ctx = _ctx(pipeline_env, monkeypatch, device_id=0, max_batch_size=8, allow_cpu_fallback=True)
    crops = plate_reader(ctx).crops
    assert CUDA in crops.detector.cfg.providers and crops.detector.cfg.max_batch == 8
    assert CUDA in crops.ocr.cfg.providers and crops.ocr.cfg.max_batch == 8
    assert (crops.detector.provider, crops.ocr.provider) == ("cpu", "cpu")  # the allowed fallback
