"""A whole `dashcam run` with both keys set, typed as a user types it: a synthesised drive with a known plate,
a fresh data folder, no harness. Afterwards no plate read on the drive is in the database's bytes, no archived
medium is a JPEG or an MP4, search finds the plate with the key, and without it the user gets one line."""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from dashcam.config import load_config
from dashcam.crypt.sealed import MAGIC
from dashcam.db import cipher
from dashcam.db.session import make_engine
from dashcam.settings import Settings
from dashcam.synth import synthesize
from tests.support import models_dir, run_dashcam, user_env

pytestmark = pytest.mark.slow
PLATE = "AB12CDE"


def _plates_read(env: dict[str, str]) -> set[str]:
    """Every plate text the run stored, read through the key (what a thief must not find in the file)."""
    config = load_config(Settings.from_env(env))
    engine = make_engine(config.database_url(), config=config)
    with engine.connect() as c:
        texts = set(c.execute(text("SELECT plate_text FROM sighting WHERE plate_text IS NOT NULL")).scalars())
        texts |= set(c.execute(text("SELECT text FROM plate_read WHERE text IS NOT NULL")).scalars())
    engine.dispose()
    return {t for t in texts if len(t) >= 4}


def test_a_whole_run_with_the_keys_set_leaves_no_plate_and_no_picture_readable(tmp_path: Path) -> None:
    footage = tmp_path / "sdcard"
    footage.mkdir()
    made = synthesize(
        footage,
        seconds=12,
        fps=15,
        size=(1280, 720),
        plates=[PLATE],
        seed=3,
        viofo_name=True,
        start_utc=datetime.fromisoformat("2024-05-18T09:30:00+00:00"),
    )
    made.truth_path.rename(tmp_path / made.truth_path.name)  # only the clip is imported
    data = tmp_path / "data"
    env = user_env(
        tmp_path / "home",
        DASHCAM_DATA_DIR=str(data),
        DASHCAM_MODELS_DIR=str(models_dir()),
        DASHCAM_DB_KEY=secrets.token_urlsafe(32),
        DASHCAM_ARCHIVE_KEY=secrets.token_urlsafe(32),
    )
    res = run_dashcam(["run", str(footage), "--json"], cwd=tmp_path, env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    summary = json.loads(res.stdout)
    assert summary["processed"] == 1 and summary["plates"] >= 1 and not summary["failures"], summary
    for key in (env["DASHCAM_DB_KEY"], env["DASHCAM_ARCHIVE_KEY"]):
        assert key not in res.stdout and key not in res.stderr

    # the database: encrypted, and no plate the run read is in its bytes (or its WAL's)
    db = data / "dashcam.db"
    assert cipher.file_state(db) == "encrypted"
    plates = _plates_read(env)
    assert PLATE in plates, plates
    stored = b"".join(p.read_bytes() for p in data.glob("dashcam.db*") if p.is_file())
    assert b"SQLite format 3" not in stored
    assert not [p for p in plates if p.encode() in stored]
    # nor anywhere else the run wrote: Prefect's database and logs, caches, the stages' side files
    # (the raw clip stays as the camera wrote it)
    for f in [*data.rglob("*"), *(tmp_path / "home").rglob("*")]:
        if f.is_file() and "raw" not in f.relative_to(tmp_path).parts:
            blob = f.read_bytes()
            assert not [p for p in plates if p.encode() in blob], f

    # the archive: every medium sealed, none a picture or a video
    objects = [p for p in (data / "archive").rglob("*") if p.is_file()]
    assert objects, "the run archived nothing"
    for p in objects:
        blob = p.read_bytes()
        assert blob.startswith(MAGIC) and not blob.startswith(b"\xff\xd8\xff") and b"ftyp" not in blob, p
    verify = run_dashcam(["archive", "verify"], cwd=tmp_path, env=env)
    assert verify.returncode == 0, verify.stdout + verify.stderr

    # search works with the key, and without it is one line, not a traceback or "no sightings"
    found = run_dashcam(["search", "--plate", PLATE, "--json"], cwd=tmp_path, env=env)
    assert found.returncode == 0, found.stderr
    assert any(h["plate"] == PLATE for h in json.loads(found.stdout)["hits"])
    keyless = {k: v for k, v in env.items() if k != "DASHCAM_DB_KEY"}
    refused = run_dashcam(["search", "--plate", PLATE], cwd=tmp_path, env=keyless)
    assert refused.returncode == 1 and refused.stdout.strip() == ""
    assert refused.stderr.strip() == f"error: {db} is encrypted: set DASHCAM_DB_KEY"
