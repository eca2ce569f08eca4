"""The heavy stage end to end on a CUDA GPU: every model on the card, results as on batch 1.

Runs where a CUDA device exists (the RTX box, a lent GPU machine). Without one the whole module is skipped
with that reason, strict mode or not: a missing GPU is what these tests are for, not a missing fixture. With
a GPU present, anything else missing (torch, yolov8n.pt, the test clip) is a failure under
DASHCAM_STRICT_TESTS=1, as everywhere.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from sqlalchemy import select


def _cuda_reason() -> str | None:
    if sys.platform == "linux" and not Path("/proc/driver/nvidia").exists():
        return "no CUDA device on this machine (no NVIDIA driver loaded)"  # without importing torch
    try:
        import torch
    except ImportError:
        return "torch is not installed (the [gpu] extra), so no CUDA device can be used"
    return None if torch.cuda.is_available() else "no CUDA device on this machine"


if (_reason := _cuda_reason()) is not None:
    pytest.skip(_reason, allow_module_level=True)

from dashcam.db.models import Sighting  # noqa: E402
from dashcam.db.session import session_scope  # noqa: E402
from dashcam.stages.context import StageContext  # noqa: E402
from dashcam.stages.heavy.record import plate_reader, run_heavy, vehicle_model  # noqa: E402
from dashcam.stages.ingest.record import register_file  # noqa: E402
from dashcam.stages.preprocess.record import run_preprocess  # noqa: E402
from dashcam.vision.models import find_model  # noqa: E402
from flows.common import reset_context  # noqa: E402
from tests.support import models_dir, need, testdata_file  # noqa: E402


def _gpu_ctx(cfg_dir: Path, batch: int, monkeypatch: pytest.MonkeyPatch) -> StageContext:
    if find_model("yolov8n.pt", models_dir=models_dir()) is None:
        need("yolov8n.pt is not in DASHCAM_MODELS_DIR (`dashcam models pull yolov8n`)")
    device = {"device_type": "rtx_4090", "gpu": {"device_id": 0, "max_batch_size": batch}}
    (cfg_dir / "devices" / "gpu-test.json").write_text(json.dumps(device))
    monkeypatch.setenv("DASHCAM_DEVICE", "gpu-test")
    reset_context()
    return StageContext.load()


def _sightings(ctx: StageContext, clip_id: int) -> list[tuple[str, float, float]]:
    with session_scope(ctx.engine) as s:
        rows = s.execute(select(Sighting).where(Sighting.clip_id == clip_id)).scalars().all()
        return sorted((r.label, r.first_s, r.last_s) for r in rows)


def test_heavy_stage_runs_every_model_on_cuda(
    pipeline_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = _gpu_ctx(pipeline_env, 4, monkeypatch)
    # no CPU fallback is configured: a model that cannot get the GPU fails here instead of running slowly
    assert vehicle_model(ctx).provider in {"cuda:0", "tensorrt:0"}
    reader = plate_reader(ctx).crops
    assert reader.detector.provider in {"cuda:0", "tensorrt:0"}
    assert reader.ocr.provider in {"cuda:0", "tensorrt:0", "cuda"}

    src = testdata_file("video/lanes/solidWhiteRight.mp4")  # 8.8 s of road with cars
    clip = tmp_path / "2023_0815_133456_000120F.MP4"
    clip.write_bytes(src.read_bytes())
    clip_id = register_file(clip, ctx).clip_id
    run_preprocess(clip_id, ctx)
    batched = run_heavy(clip_id, ctx)
    assert not batched.skipped and batched.frames > 50
    cars = [s for s in _sightings(ctx, clip_id) if s[0] == "car"]
    assert 2 <= len(cars) <= 8  # as on the CPU (tests/stages/heavy/test_record.py)

    # batch 1 on the same card: batching changes the speed, not what is found
    one = _gpu_ctx(pipeline_env, 1, monkeypatch)
    single = run_heavy(clip_id, one)
    assert not single.skipped  # the gpu section is part of the key: a real rerun
    assert len([s for s in _sightings(one, clip_id) if s[0] == "car"]) == len(cars)
