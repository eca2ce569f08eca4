"""The ingest flow against a fake camera on loopback and real folders: each clip registered exactly once."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from dashcam.cli import app
from dashcam.db.models import Clip, StageRun
from dashcam.db.session import session_scope
from dashcam.stages.context import StageContext
from tests.camera.fake_camera import FakeCamera, mp4_variant
from tests.support import testdata_file


def _clips(ctx: StageContext) -> list[Clip]:
    with session_scope(ctx.engine) as s:
        return list(s.execute(select(Clip).order_by(Clip.id)).scalars())


def _raw_files(ctx: StageContext) -> list[str]:
    return sorted(ctx.storage["raw"].keys())


@pytest.fixture
def ctx(pipeline_env: Path, prefect_harness: None) -> StageContext:
    return StageContext.load()


def test_camera_sync_registers_each_clip_once(ctx: StageContext, stocked_camera: FakeCamera) -> None:
    from flows.ingest import ingest

    first = ingest(camera=stocked_camera.url, stable_check_s=0)
    assert first["camera_reachable"] and first["failed"] == {}
    clips = _clips(ctx)
    assert len(clips) == 5 and sorted(first["new_clip_ids"]) == [c.id for c in clips]
    by_name = {c.file_name: c for c in clips}
    assert by_name["2023_0815_120200_000105EF.MP4"].protected  # the RO folder
    assert by_name["2023_0815_130000_000104PF.MP4"].kind == "parking"
    front, rear = by_name["2023_0815_120000_000101F.MP4"], by_name["2023_0815_120000_000102R.MP4"]
    assert front.moment_key == rear.moment_key and (front.channel, rear.channel) == ("F", "R")
    assert len(_raw_files(ctx)) == 5
    assert all(ctx.storage["raw"].size(c.raw_key) == c.size_bytes for c in clips)
    downloads = len(stocked_camera.downloads)

    again = ingest(camera=stocked_camera.url, stable_check_s=0)
    assert again["new_clip_ids"] == [] and again["registered"] == []
    assert len(stocked_camera.downloads) == downloads  # nothing fetched twice
    assert len(_clips(ctx)) == 5 and len(_raw_files(ctx)) == 5


def test_dropped_connection_resumes_and_nothing_partial_is_visible(
    ctx: StageContext, fake_camera: FakeCamera, lanes_mp4: bytes
) -> None:
    from flows.ingest import ingest

    name = "2023_0815_120100_000103F.MP4"
    fake_camera.add_file("Movie", name, lanes_mp4)
    fake_camera.faults.drop_after[name] = 700_000
    ingest(camera=fake_camera.url, stable_check_s=0)
    # whatever happened, the raw area never shows a partial clip
    for key in _raw_files(ctx):
        assert ctx.storage["raw"].size(key) == len(lanes_mp4)
    fake_camera.faults.drop_after.clear()
    ingest(camera=fake_camera.url, stable_check_s=0)
    clips = _clips(ctx)
    assert [c.file_name for c in clips] == [name] and clips[0].size_bytes == len(lanes_mp4)
    assert _raw_files(ctx) == [clips[0].raw_key]


def test_no_camera_is_a_state_not_an_error(ctx: StageContext, fake_camera: FakeCamera) -> None:
    from flows.ingest import ingest

    url = fake_camera.url
    fake_camera.stop()
    res = ingest(camera=url, stable_check_s=0)
    assert res["camera_reachable"] is False and res["failed"] == {} and res["clip_ids"] == []


def test_folder_import_reports_bad_files_and_is_idempotent(
    ctx: StageContext, tmp_path: Path, highway_mp4: bytes
) -> None:
    card = tmp_path / "sdcard" / "DCIM" / "Movie"
    card.mkdir(parents=True)
    (card / "2023_0815_120000_000101F.MP4").write_bytes(highway_mp4)
    shutil.copyfile(testdata_file("video/lanes/solidWhiteRight.mp4"), card / "2023_0815_120100_000103F.MP4")
    (card / "2023_0815_120200_000104F.MP4").write_bytes(highway_mp4[: len(highway_mp4) // 2])  # cut short
    (card / "notes.txt").write_text("not a clip")
    runner = CliRunner()
    res = runner.invoke(app, ["ingest", "--from", str(tmp_path / "sdcard"), "--json"])
    assert res.exit_code == 1, res.output
    doc = json.loads(res.stdout)
    assert len(doc["new_clip_ids"]) == 2
    (reason,) = doc["failed"].values()
    assert "2023_0815_120200_000104F.MP4" in reason and "\n" not in reason
    assert len(_clips(ctx)) == 2

    before = _raw_files(ctx)
    res2 = runner.invoke(app, ["ingest", "--from", str(tmp_path / "sdcard"), "--json"])
    doc2 = json.loads(res2.stdout)
    assert doc2["new_clip_ids"] == [] and doc2["registered"] == []
    assert sorted(doc2["clip_ids"]) == sorted(doc["new_clip_ids"])  # known clips keep their ids
    assert _raw_files(ctx) == before and len(_clips(ctx)) == 2
    with session_scope(ctx.engine) as s:
        runs = s.execute(select(StageRun).where(StageRun.stage == "ingest")).scalars().all()
    assert len(runs) == 2 and all(r.status == "done" for r in runs)


def test_same_clip_from_camera_and_card_is_one_clip(
    ctx: StageContext, fake_camera: FakeCamera, tmp_path: Path, highway_mp4: bytes
) -> None:
    from flows.ingest import ingest

    data = mp4_variant(highway_mp4, "one")
    fake_camera.add_file("RO", "2023_0815_120000_000101F.MP4", data, protected=True)
    ingest(camera=fake_camera.url, stable_check_s=0)
    card = tmp_path / "card"
    card.mkdir()
    (card / "COPY_OF_CLIP.MP4").write_bytes(data)
    res = ingest(folder=str(card))
    clips = _clips(ctx)
    assert len(clips) == 1 and res["new_clip_ids"] == [] and res["clip_ids"] == [clips[0].id]
    assert clips[0].protected  # the second arrival did not unprotect it
    assert len(_raw_files(ctx)) == 1


def test_single_files_are_imported_like_a_folder(
    ctx: StageContext, tmp_path: Path, highway_mp4: bytes
) -> None:
    """`ingest(files=[...])` (what a deployment run for named clips uses): each file is copied in and
    registered, the user's files stay where they were, a missing or cut-short file fails alone, and a
    second run registers nothing new."""
    from flows.ingest import ingest

    good = tmp_path / "2023_0815_120000_000101F.MP4"
    good.write_bytes(highway_mp4)
    short = tmp_path / "2023_0815_120200_000104F.MP4"
    short.write_bytes(highway_mp4[: len(highway_mp4) // 2])
    missing = tmp_path / "2023_0815_120300_000105F.MP4"
    files = [str(good), str(short), str(missing)]

    doc = ingest(files=files)
    assert len(doc["new_clip_ids"]) == 1 and len(_clips(ctx)) == 1
    assert good.exists() and short.exists()  # copied, not moved
    assert set(doc["failed"]) == {str(short), str(missing)}
    assert all("\n" not in why for why in doc["failed"].values())
    assert "no such file" in doc["failed"][str(missing)]

    again = ingest(files=[str(good)])
    assert again["new_clip_ids"] == [] and again["clip_ids"] == doc["new_clip_ids"]
    assert len(_clips(ctx)) == 1
