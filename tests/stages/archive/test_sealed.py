"""The archive with an archive key: what lands on the shed NAS is sealed (no JPEG or MP4 left to see), the
stage and retention still verify every object, a damaged one is reported, a rekey leaves every object
readable, old plain objects can be sealed, and the switch without a key stops the stage instead of
writing in the clear."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from pathlib import Path

import cv2
import numpy as np
import pytest
from sqlalchemy import select

from dashcam.crypt import archive_ops
from dashcam.crypt.sealed import HEADER_LEN, MAGIC
from dashcam.db.models import Media, StageRun, utcnow
from dashcam.db.session import session_scope
from dashcam.stages.archive.record import run_archive
from dashcam.stages.context import NotRetryable, StageContext
from dashcam.stages.retention.apply import run as run_retention
from dashcam.storage import clip_key
from flows.common import reset_context
from tests.stages.conftest import age, clip_row, make_clip
from tests.support import run_dashcam

NAME = "2024_0518_093000_000001F.MP4"
OLD = 30


def _jpeg() -> bytes:
    img = np.full((120, 200, 3), (200, 200, 200), np.uint8)
    cv2.putText(img, "AB12CDE", (10, 60), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (0, 0, 0), 2)
    return cv2.imencode(".jpg", img)[1].tobytes()


def _mp4(tmp: Path) -> bytes:
    from dashcam.video.encode import write_mp4

    path = tmp / "clip.mp4"
    write_mp4(path, (np.full((90, 160, 3), i * 8, np.uint8) for i in range(30)), fps=10)
    return path.read_bytes()


def _add(ctx: StageContext, clip_id: int, name: str, data: bytes, mime: str) -> str:
    key = clip_key(clip_row(ctx, clip_id).content_hash, name)
    ctx.storage["heavy_output"].write_bytes(key, data)
    with session_scope(ctx.engine) as s:
        s.add(
            Media(
                clip_id=clip_id,
                kind="plate_crop" if mime == "image/jpeg" else "sighting_clip",
                key=key,
                area="heavy_output",
                mime=mime,
                size_bytes=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                created_at=utcnow(),
            )
        )
    return key


def _keyed(monkeypatch: pytest.MonkeyPatch, key: str | None = None) -> tuple[StageContext, str]:
    key = key or secrets.token_urlsafe(32)
    monkeypatch.setenv("DASHCAM_ARCHIVE_KEY", key)
    reset_context()
    return StageContext.load(), key


def _archived(ctx: StageContext, tmp_path: Path) -> tuple[int, dict[str, bytes]]:
    """A clip with a real JPEG crop and a real MP4 clip (and two more media), archived."""
    cid = make_clip(ctx, NAME, media=2, archive=False)
    plain = {_add(ctx, cid, "sighting-0001-crop.jpg", _jpeg(), "image/jpeg"): _jpeg()}
    mp4 = _mp4(tmp_path)
    plain[_add(ctx, cid, "sighting-0001.mp4", mp4, "video/mp4")] = mp4
    res = run_archive(cid, ctx)
    assert res.archived == 4, res
    return cid, plain


def _rows(ctx: StageContext) -> list[Media]:
    with session_scope(ctx.engine) as s:
        rows = list(s.execute(select(Media).order_by(Media.key)).scalars())
        s.expunge_all()
    return rows


def test_archived_objects_show_no_jpeg_or_mp4_and_verify(
    pipeline_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ctx, _ = _keyed(monkeypatch)
    _, plain = _archived(ctx, tmp_path)
    archive = ctx.storage["archive"]
    rows = _rows(ctx)
    assert len(rows) == 4 and all(m.area == "archive" for m in rows)
    for m in rows:
        stored = archive.path(m.key).read_bytes()
        assert stored.startswith(MAGIC)
        assert not stored.startswith(b"\xff\xd8\xff") and b"ftyp" not in stored and b"JFIF" not in stored
        assert b"AB12CDE" not in stored
        # what the archive hands back is the medium of the row, every chunk checked on the way
        assert archive.size(m.key) == m.size_bytes and archive.sha256(m.key) == m.sha256
        if m.key in plain:
            with archive.open(m.key) as f:
                assert f.read() == plain[m.key]
    assert plain and all(v.startswith((b"\xff\xd8\xff", b"\x00\x00\x00")) for v in plain.values())
    out = archive_ops.verify(archive, ctx.engine)
    assert (out.objects, out.sealed, out.unchanged, out.problems) == (4, 4, 4, [])


def test_a_tampered_or_truncated_object_is_reported_and_never_counts_as_a_copy(
    pipeline_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ctx, key = _keyed(monkeypatch)
    cid, plain = _archived(ctx, tmp_path)
    archive, heavy = ctx.storage["archive"], ctx.storage["heavy_output"]
    crop, clip = sorted(plain)
    blob = bytearray(archive.path(crop).read_bytes())
    blob[HEADER_LEN + 40] ^= 0x01
    archive.path(crop).write_bytes(bytes(blob))
    archive.path(clip).write_bytes(archive.path(clip).read_bytes()[:-100])

    env = {**os.environ, "DASHCAM_ARCHIVE_KEY": key}
    res = run_dashcam(["archive", "verify", "--json"], cwd=tmp_path, env=env)
    assert res.returncode == 1
    doc = json.loads(res.stdout)
    assert doc["unchanged"] == 2 and len(doc["problems"]) == 2
    said = "\n".join(doc["problems"])
    assert f"{crop}: chunk 0 of 1 fails its integrity check (tampered or damaged)" in said
    assert f"{clip}: " in said and "truncated or appended to" in said

    # retention keeps a heavy_output copy whose archive copy does not open
    for k in (crop, clip):
        heavy.write_bytes(k, plain[k])
    age(ctx, cid, OLD)
    doc = run_retention(ctx)
    kept = {i["key"]: i["error"] for i in doc["items"] if i["status"] == "kept"}
    assert set(kept) == {crop, clip} and all("cannot be opened" in e for e in kept.values())
    assert heavy.exists(crop) and heavy.exists(clip)


def test_retention_deletes_archived_leftovers_as_before(
    pipeline_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ctx, _ = _keyed(monkeypatch)
    cid, plain = _archived(ctx, tmp_path)
    heavy = ctx.storage["heavy_output"]
    crop = sorted(plain)[0]
    heavy.write_bytes(crop, plain[crop])  # the delete after the flip failed once
    age(ctx, cid, OLD)
    doc = run_retention(ctx)
    gone = {i["key"] for i in doc["items"] if i["status"] == "deleted" and i["area"] == "heavy_output"}
    assert gone == {crop} and not heavy.exists(crop)
    assert ctx.storage["archive"].sha256(crop) == hashlib.sha256(plain[crop]).hexdigest()


def test_rekey_rewraps_every_object_and_all_still_read(
    pipeline_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ctx, old = _keyed(monkeypatch)
    _archived(ctx, tmp_path)
    archive = ctx.storage["archive"]
    media_bytes = {m.key: archive.path(m.key).read_bytes()[HEADER_LEN:] for m in _rows(ctx)}
    new = secrets.token_urlsafe(32)
    env = {**os.environ, "DASHCAM_ARCHIVE_KEY": old, "DASHCAM_ARCHIVE_NEW_KEY": new}
    res = run_dashcam(["archive", "rekey"], cwd=tmp_path, env=env)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("4 object(s) re-keyed, 0 on the new key already, 0 not encrypted, 0 failed")
    assert {
        k: archive.path(k).read_bytes()[HEADER_LEN:] for k in media_bytes
    } == media_bytes  # media untouched
    again = run_dashcam(["archive", "rekey", "--json"], cwd=tmp_path, env=env)
    assert json.loads(again.stdout)["unchanged"] == 4

    on_new = run_dashcam(["archive", "verify"], cwd=tmp_path, env={**env, "DASHCAM_ARCHIVE_KEY": new})
    assert on_new.returncode == 0, on_new.stderr
    assert on_new.stdout.startswith("4 archived medium/media checked: 4 good, 0 bad (4 encrypted, 0 not)")
    on_old = run_dashcam(["archive", "verify", "--json"], cwd=tmp_path, env=env)
    assert on_old.returncode == 1
    assert all("another archive key" in p for p in json.loads(on_old.stdout)["problems"])


def test_encrypt_seals_objects_archived_before_and_skips_a_wrong_one(
    pipeline_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("DASHCAM_ARCHIVE_KEY", raising=False)
    reset_context()
    ctx = StageContext.load()
    _, plain = _archived(ctx, tmp_path)  # no key yet: stored as they are
    archive = ctx.storage["archive"]
    crop = sorted(plain)[0]
    assert archive.path(crop).read_bytes() == plain[crop]
    wrong = [m.key for m in _rows(ctx) if m.key not in plain][0]
    archive.path(wrong).write_bytes(b"not what the row says")

    env = {**os.environ, "DASHCAM_ARCHIVE_KEY": secrets.token_urlsafe(32)}
    res = run_dashcam(["archive", "encrypt", "--json"], cwd=tmp_path, env=env)
    assert res.returncode == 1
    doc = json.loads(res.stdout)
    assert (
        doc["changed"] == 3
        and len(doc["problems"]) == 1
        and "differs from its media row" in doc["problems"][0]
    )
    assert archive.path(wrong).read_bytes() == b"not what the row says"  # left for a person to look at
    assert archive.path(crop).read_bytes().startswith(MAGIC)
    ok = run_dashcam(["archive", "verify", "--json"], cwd=tmp_path, env=env)
    assert json.loads(ok.stdout)["unchanged"] == 3


def test_the_switch_without_a_key_stops_the_archive_instead_of_writing_plain(
    pipeline_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = json.loads((pipeline_env / "config.json").read_text())
    (pipeline_env / "config.json").write_text(json.dumps({**cfg, "encryption": {"enabled": True}}))
    monkeypatch.delenv("DASHCAM_ARCHIVE_KEY", raising=False)
    monkeypatch.setenv("DASHCAM_DB_KEY", secrets.token_urlsafe(32))  # the switch wants both keys
    reset_context()
    ctx = StageContext.load()
    cid = make_clip(ctx, NAME, media=2, archive=False)
    with pytest.raises(NotRetryable, match="encryption.enabled is on: set DASHCAM_ARCHIVE_KEY"):
        run_archive(cid, ctx)
    assert list(ctx.storage["archive"].keys("")) == []
    assert all(m.area == "heavy_output" and ctx.storage["heavy_output"].exists(m.key) for m in _rows(ctx))
    with session_scope(ctx.engine) as s:
        run = s.execute(
            select(StageRun).where(StageRun.clip_id == cid, StageRun.stage == "archive")
        ).scalar_one()
        assert run.status == "failed" and "DASHCAM_ARCHIVE_KEY" in (run.error or "")
