"""`dashcam models check` says where each model runs on this machine, the way a user runs it.

No CUDA device exists here, so a device file with a gpu section is the real case of a GPU box whose
driver is broken: the ONNX models cannot get CUDA and the command says so; with gpu.allow_cpu_fallback
they run on the CPU and the command says that.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import models_dir, run_dashcam, user_env


def _check(tmp_path: Path, gpu: dict[str, object] | None) -> tuple[int, dict, str]:
    conf = tmp_path / "conf"
    (conf / "devices").mkdir(parents=True)
    (conf / "config.json").write_text("{}")
    device: dict[str, object] = {"device_type": "rtx_4090"}
    if gpu is not None:
        device["gpu"] = gpu
    (conf / "devices" / "rtx.json").write_text(json.dumps(device))
    env = user_env(
        tmp_path / "home",
        DASHCAM_DATA_DIR=str(tmp_path / "data"),
        DASHCAM_CONFIG_DIR=str(conf),
        DASHCAM_DEVICE="rtx",
        DASHCAM_MODELS_DIR=str(models_dir()),
    )
    done = run_dashcam(["models", "check", "--json"], cwd=tmp_path, env=env)
    doc = json.loads(done.stdout)
    return done.returncode, {m["role"]: m.get("runs_on") for m in doc["models"]}, done.stderr


@pytest.fixture
def no_cuda_device() -> None:
    try:
        import torch
    except ImportError:
        return
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present: tests/gpu checks the real CUDA run")


def test_without_a_gpu_section_everything_runs_on_the_cpu(tmp_path: Path) -> None:
    code, runs, _ = _check(tmp_path, None)
    assert code == 0
    assert runs["plate_detector"] == "cpu" and runs["ocr"] == "cpu" and runs["vehicle_detector"] == "cpu"


def test_gpu_section_without_a_device_fails_loudly(tmp_path: Path, no_cuda_device: None) -> None:
    code, runs, _ = _check(tmp_path, {"device_id": 0, "max_batch_size": 4})
    assert code == 1
    assert runs["plate_detector"].startswith("error: detector license_plate_detector_int8.onnx: CUDA")
    assert runs["ocr"].startswith("error: OCR backend rapidocr: CUDAExecutionProvider asked for")
    assert "gpu.allow_cpu_fallback" in runs["ocr"]


def test_allowed_fallback_shows_the_cpu(tmp_path: Path, no_cuda_device: None) -> None:
    code, runs, _ = _check(tmp_path, {"device_id": 0, "max_batch_size": 4, "allow_cpu_fallback": True})
    assert runs["plate_detector"] == "cpu" and runs["ocr"] == "cpu"
    # the ultralytics detector on cuda:0 has no CPU fallback (and no yolov8n.pt is here): an error either way
    assert runs["vehicle_detector"].startswith("error: ")
    assert code == 1
