"""TensorRT engine keys and `dashcam models export --tensorrt` where TensorRT is absent (as here).

TensorRT and the GPU are absent on this machine: the key tests fake TensorRT's version and the GPU's name
(and say so); the command is run for real and must say in one line that TensorRT is missing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dashcam.vision import tensorrt
from dashcam.vision.errors import BackendUnavailable
from tests.support import run_dashcam, user_env


def test_engine_key_names_the_card_and_the_version() -> None:
    assert (
        tensorrt.engine_key("NVIDIA GeForce RTX 4090", "10.9.0.34") == "nvidia-geforce-rtx-4090-trt10.9.0.34"
    )
    assert tensorrt.engine_key("NVIDIA H100 80GB HBM3", "10.13.2") == "nvidia-h100-80gb-hbm3-trt10.13.2"
    # nothing of either part can leave the engines folder
    assert "/" not in tensorrt.engine_key("../../etc", "../1")


def _fake(monkeypatch: pytest.MonkeyPatch, gpu: str | None, version: str | None) -> None:
    """TensorRT's version and the GPU's name faked: neither exists here."""
    monkeypatch.setattr(tensorrt, "tensorrt_version", lambda: version)
    monkeypatch.setattr(tensorrt, "gpu_name", lambda device_id=0: gpu)


def test_a_new_card_or_tensorrt_gives_a_new_folder_and_the_old_one_goes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _fake(monkeypatch, "NVIDIA GeForce RTX 4090", "10.9.0")
    first = tensorrt.engine_dir(0)
    weights = Path("/models/yolov8n.pt")
    (first / "yolov8n.engine").write_bytes(b"engine")
    assert tensorrt.built_engine(weights) == first / "yolov8n.engine"
    assert first.parent == tensorrt.engines_root() and str(first).startswith(str(tensorrt.user_cache_dir()))

    _fake(monkeypatch, "NVIDIA GeForce RTX 4090", "10.10.0")  # TensorRT upgraded: the old engine is stale
    assert tensorrt.built_engine(weights) is None
    second = tensorrt.engine_dir(0)
    assert second != first
    assert tensorrt.prune_other_keys(second) == [first]
    assert not first.exists() and second.is_dir()


def test_without_tensorrt_or_gpu_one_line_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake(monkeypatch, "NVIDIA GeForce RTX 4090", None)
    with pytest.raises(BackendUnavailable, match="^TensorRT is not installed here"):
        tensorrt.engine_dir(0)
    assert tensorrt.built_engine(Path("yolov8n.pt")) is None
    _fake(monkeypatch, None, "10.9.0")
    with pytest.raises(BackendUnavailable, match="^no CUDA device 0 here"):
        tensorrt.engine_dir(0)


def test_export_without_tensorrt_says_so_in_one_line(tmp_path: Path) -> None:
    if tensorrt.tensorrt_version() is not None:
        pytest.skip("TensorRT is installed here: tests/gpu builds the engines")
    env = user_env(tmp_path / "home", DASHCAM_DATA_DIR=str(tmp_path / "data"))
    done = run_dashcam(["models", "export", "--tensorrt"], cwd=tmp_path, env=env)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "error: TensorRT is not installed here: install it on the GPU box (pip install tensorrt) to build engines"
    ]
