"""The preprocess flow under a real (test) Prefect server: per-clip outcomes, retries refused for corrupt input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from dashcam.db.models import StageRun
from dashcam.db.session import session_scope
from dashcam.stages.context import StageContext
from dashcam.stages.ingest.record import register_file
from tests.support import testdata_file


def test_flow_processes_a_batch_and_reports_the_corrupt_clip(
    pipeline_env: Path, prefect_harness: None, tmp_path: Path
) -> None:
    from flows.preprocess import preprocess

    ctx = StageContext.load()
    good = tmp_path / "2023_0815_123456_000120F.MP4"
    shutil.copyfile(testdata_file("video/lanes/solidWhiteRight.mp4"), good)
    data = bytearray(good.read_bytes())
    mdat = data.find(b"mdat")
    data[mdat + 8 : len(data) - 40000] = bytes(len(data) - 40000 - mdat - 8)
    bad = tmp_path / "2023_0815_123457_000121F.MP4"
    bad.write_bytes(bytes(data))
    ids = [register_file(bad, ctx).clip_id, register_file(good, ctx).clip_id]

    results = preprocess(ids)
    by_id = {r["clip_id"]: r for r in results}
    assert by_id[ids[0]]["ok"] is False
    assert by_id[ids[0]]["error"].startswith("2023_0815_123457_000121F.MP4: decode error")
    assert by_id[ids[1]]["ok"] is True and by_id[ids[1]]["windows"] >= 1

    with session_scope(ctx.engine) as s:
        runs = {
            r.clip_id: r for r in s.execute(select(StageRun).where(StageRun.stage == "preprocess")).scalars()
        }
    # the corrupt clip was tried once: retrying cannot fix it
    assert runs[ids[0]].status == "failed" and runs[ids[0]].attempts == 1
    assert runs[ids[1]].status == "done"

    again = {r["clip_id"]: r for r in preprocess([ids[1]])}
    assert again[ids[1]]["ok"] and again[ids[1]]["windows"] == by_id[ids[1]]["windows"]
    with session_scope(ctx.engine) as s:
        run = s.execute(
            select(StageRun).where(StageRun.clip_id == ids[1], StageRun.stage == "preprocess")
        ).scalar_one()
    assert run.attempts == 1  # served from the cache: the stage did not run again


def test_a_new_data_folder_does_not_reuse_an_old_cached_result(
    pipeline_env: Path, prefect_harness: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prefect's result storage outlives the database: the user who starts over with a fresh data folder
    (or keeps two) must get the stage's output again, not a cached 'done' for work this database lacks."""
    from dashcam.stages.preprocess.record import MANIFEST_NAME
    from dashcam.storage import clip_key
    from flows.common import reset_context
    from flows.preprocess import preprocess

    clip = tmp_path / "2023_0815_123456_000120F.MP4"
    shutil.copyfile(testdata_file("video/lanes/solidWhiteRight.mp4"), clip)
    for folder in ("first", "second"):
        data = tmp_path / folder
        cfg = json.loads((pipeline_env / "config.json").read_text())
        cfg["storage_paths"] = {
            "indoor_nas": {"base": str(data)},
            "shed_nas": {"archive_base": str(data / "archive")},
        }
        (pipeline_env / "config.json").write_text(json.dumps(cfg))
        monkeypatch.setenv("DASHCAM_DATA_DIR", str(data))
        reset_context()
        ctx = StageContext.load()
        reg = register_file(clip, ctx)
        (res,) = preprocess([reg.clip_id])
        assert res["ok"], res
        assert ctx.storage["preproc"].exists(clip_key(reg.content_hash, MANIFEST_NAME)), folder
