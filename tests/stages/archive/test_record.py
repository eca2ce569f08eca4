"""The archive stage: verified moves, resumes from every interruption, mismatches and losses reported."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from dashcam.db.models import Media, StageRun
from dashcam.db.session import session_scope
from dashcam.stages.archive.record import PAUSE_AT_ENV, PAUSE_ENV, pending_clip_ids, run_archive
from dashcam.stages.context import NotRetryable, StageContext, StageFailed
from dashcam.storage import Area
from tests.stages.conftest import add_medium, make_clip


def _media(ctx: StageContext, clip_id: int) -> list[Media]:
    with session_scope(ctx.engine) as s:
        rows = list(s.execute(select(Media).where(Media.clip_id == clip_id).order_by(Media.key)).scalars())
        s.expunge_all()
    return rows


def _run(ctx: StageContext, clip_id: int) -> StageRun:
    with session_scope(ctx.engine) as s:
        r = s.execute(
            select(StageRun).where(StageRun.clip_id == clip_id, StageRun.stage == "archive")
        ).scalar_one()
        s.expunge(r)
    return r


def _assert_all_archived(ctx: StageContext, clip_id: int) -> None:
    src, dst = ctx.storage["heavy_output"], ctx.storage["archive"]
    for m in _media(ctx, clip_id):
        assert m.area == "archive" and m.archived_at is not None
        assert not src.exists(m.key)
        assert dst.size(m.key) == m.size_bytes and dst.sha256(m.key) == m.sha256


def test_media_move_to_the_same_key_verified_and_a_rerun_does_nothing(ctx_db: StageContext) -> None:
    ctx = ctx_db
    clip_id = make_clip(ctx, "2023_0815_120000_000001F.MP4", media=3, archive=False)
    assert pending_clip_ids(ctx.engine) == [clip_id]
    res = run_archive(clip_id, ctx)
    assert (res.skipped, res.archived, res.resumed) == (False, 3, 0)
    assert res.bytes == sum(m.size_bytes for m in _media(ctx, clip_id))
    _assert_all_archived(ctx, clip_id)
    assert _run(ctx, clip_id).status == "done"
    assert pending_clip_ids(ctx.engine) == []

    dst = ctx.storage["archive"]
    before = {k: dst.path(k).stat().st_mtime_ns for k in dst.keys("")}
    again = run_archive(clip_id, ctx)
    assert again.skipped and again.archived == 0
    assert {k: dst.path(k).stat().st_mtime_ns for k in dst.keys("")} == before
    assert _run(ctx, clip_id).attempts == 1


def test_resume_rules(ctx: StageContext) -> None:
    src, dst = ctx.storage["heavy_output"], ctx.storage["archive"]
    clip_id = make_clip(ctx, "2023_0815_120000_000001F.MP4", media=0, archive=False)
    copied = add_medium(ctx, clip_id, "sighting-0001-thumb.jpg")  # copy in archive, row not flipped
    moved = add_medium(ctx, clip_id, "sighting-0002-thumb.jpg")  # source gone, good copy in archive
    fresh = add_medium(ctx, clip_id, "sighting-0003-thumb.jpg")  # untouched
    for key in (copied, moved):
        dst.put_file(key, src.path(key))
    src.delete(moved)
    res = run_archive(clip_id, ctx)
    assert (res.archived, res.resumed) == (1, 2)
    assert not {copied, moved, fresh} - set(dst.keys())
    _assert_all_archived(ctx, clip_id)

    # crash after the flip, before the delete: the row says archive, the source is still there
    leftover = add_medium(ctx, clip_id, "sighting-0004-thumb.jpg")
    run_archive(clip_id, ctx)
    ctx.storage["heavy_output"].write_bytes(leftover, dst.path(leftover).read_bytes())
    res = run_archive(clip_id, ctx)
    assert not res.skipped and res.cleaned == 1 and not src.exists(leftover)
    _assert_all_archived(ctx, clip_id)


def test_checksum_mismatch_keeps_the_source_and_says_so(
    ctx: StageContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    clip_id = make_clip(ctx, "2023_0815_120000_000001F.MP4", media=2, archive=False)
    real_put = Area.put_file

    def flipping_put(self: Area, key: str, src: str | os.PathLike[str]) -> None:
        real_put(self, key, src)
        if self.name == "archive":  # the NAS hands back different bytes
            p = self.path(key)
            data = bytearray(p.read_bytes())
            data[100] ^= 0xFF
            p.write_bytes(bytes(data))

    monkeypatch.setattr(Area, "put_file", flipping_put)
    with pytest.raises(StageFailed, match="2 file\\(s\\) failed verification, sources kept") as err:
        run_archive(clip_id, ctx)
    assert not isinstance(err.value, NotRetryable)  # a retry copies again
    assert "archived copy differs (sha256" in str(err.value)
    run = _run(ctx, clip_id)
    assert run.status == "failed" and "failed verification" in run.error
    for m in _media(ctx, clip_id):
        assert m.area == "heavy_output" and m.archived_at is None
        assert ctx.storage["heavy_output"].sha256(m.key) == m.sha256
        assert not ctx.storage["archive"].exists(m.key)  # the bad copy is gone

    monkeypatch.setattr(Area, "put_file", real_put)
    assert run_archive(clip_id, ctx).archived == 2
    _assert_all_archived(ctx, clip_id)
    assert _run(ctx, clip_id).status == "done"


def test_a_changed_source_is_reported_as_such(ctx: StageContext) -> None:
    clip_id = make_clip(ctx, "2023_0815_120000_000001F.MP4", media=1, archive=False)
    (m,) = _media(ctx, clip_id)
    ctx.storage["heavy_output"].path(m.key).write_bytes(b"truncated")
    with pytest.raises(StageFailed, match="source does not match its row \\(size 9 != 3000\\)"):
        run_archive(clip_id, ctx)
    assert ctx.storage["heavy_output"].exists(m.key) and not ctx.storage["archive"].exists(m.key)


def test_a_file_in_neither_place_is_reported_lost(ctx: StageContext) -> None:
    clip_id = make_clip(ctx, "2023_0815_120000_000001F.MP4", media=2, archive=False)
    lost, kept = (m.key for m in _media(ctx, clip_id))
    ctx.storage["heavy_output"].delete(lost)
    with pytest.raises(NotRetryable, match="1 file\\(s\\) lost: .*in neither heavy_output nor the archive"):
        run_archive(clip_id, ctx)
    rows = {m.key: m for m in _media(ctx, clip_id)}
    assert rows[lost].area == "heavy_output"  # never silently marked archived
    assert rows[kept].area == "archive" and ctx.storage["archive"].exists(kept)
    assert _run(ctx, clip_id).status == "failed"


def _wait_for(path: Path, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"archive process ended early: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"no {path.name} marker within {timeout} s")
        time.sleep(0.05)


@pytest.mark.parametrize("point", ["copied", "flipped"])
def test_killed_between_copy_and_delete_leaves_both_copies_and_a_rerun_finishes(
    ctx: StageContext, tmp_path: Path, point: str
) -> None:
    clip_id = make_clip(ctx, "2023_0815_120000_000001F.MP4", media=2, archive=False)
    first = _media(ctx, clip_id)[0]
    hook = tmp_path / "hook"
    hook.mkdir()
    env = {**os.environ, PAUSE_ENV: str(hook), PAUSE_AT_ENV: point}
    code = (
        "from dashcam.stages.context import StageContext\n"
        "from dashcam.stages.archive.record import run_archive\n"
        f"run_archive({clip_id}, StageContext.load())\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stderr=subprocess.PIPE)
    try:
        _wait_for(hook / "paused", proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert (hook / "paused").read_text().split() == [point, first.key]

    # both copies, identical, and the row says where the verified copy is trusted to be
    src, dst = ctx.storage["heavy_output"], ctx.storage["archive"]
    assert src.sha256(first.key) == dst.sha256(first.key) == first.sha256
    row = next(m for m in _media(ctx, clip_id) if m.key == first.key)
    assert row.area == ("heavy_output" if point == "copied" else "archive")
    assert _run(ctx, clip_id).status == "running"
    # the claim names a process of this machine that is gone: a rerun takes the clip over at once,
    # without waiting for the lease to run out
    res = run_archive(clip_id, ctx)
    assert res.archived == 1  # the second file
    assert (res.resumed, res.cleaned) == ((1, 0) if point == "copied" else (0, 1))
    _assert_all_archived(ctx, clip_id)
    assert _run(ctx, clip_id).status == "done"
    assert run_archive(clip_id, ctx).skipped
    assert not list(Path(dst.root).rglob("*.tmp-*"))


def test_web_copy_of_a_real_clip_is_archived_as_playable_h264(ctx: StageContext, tmp_path: Path) -> None:
    """A real clip through ingest: its web copy is an H.264 MP4 of the same length, archived and verified."""
    import json

    from dashcam.stages.ingest.record import register_file
    from dashcam.video.decode import probe
    from flows.common import reset_context
    from tests.support import testdata_file

    cfg = Path(os.environ["DASHCAM_CONFIG_DIR"]) / "config.json"
    doc = json.loads(cfg.read_text())
    doc["archive"] = {"web_copy_of_clip": True}
    cfg.write_text(json.dumps(doc))
    reset_context()
    ctx = StageContext.load()
    clip = tmp_path / "2023_0815_120000_000001F.MP4"
    shutil.copyfile(testdata_file("video/lanes/solidWhiteRight.mp4"), clip)
    clip_id = register_file(clip, ctx).clip_id
    res = run_archive(clip_id, ctx)
    assert res.web_copy and res.web_copy.endswith("/clip-web.mp4") and res.archived == 1
    (m,) = _media(ctx, clip_id)
    assert (m.kind, m.area, m.mime) == ("clip_web", "archive", "video/mp4")
    path = ctx.storage["archive"].path(m.key)
    info, orig = probe(path), probe(clip)
    assert info.codec == "h264" and info.width == orig.width
    assert abs(info.duration_s - orig.duration_s) < 0.2
    assert hashlib.sha256(path.read_bytes()).hexdigest() == m.sha256
    assert run_archive(clip_id, ctx).skipped
