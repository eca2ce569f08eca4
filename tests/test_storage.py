"""Storage areas: resolution per device, deterministic keys, atomic writes."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from dashcam.config import load_config
from dashcam.files import file_digest
from dashcam.settings import Settings
from dashcam.storage import (
    Area,
    BadKey,
    Storage,
    StorageError,
    check_key,
    clip_key,
    resolve_location,
)

H = "0123456789abcdef" * 4


def test_embedded_default_lives_under_data_dir(tmp_path: Path) -> None:
    s = Settings.from_env({"DASHCAM_DATA_DIR": str(tmp_path), "DASHCAM_CONFIG_DIR": ""})
    s = Settings(**{**s.__dict__, "config_dir": tmp_path / "no-config"})
    st = Storage(load_config(s))
    assert st.describe() == {
        a: str(tmp_path / a) for a in ("raw", "preproc", "heavy_output", "archive", "scratch")
    }


def test_guide_shares_map_to_mounts_per_device(tmp_path: Path) -> None:
    cfg_dir = tmp_path / "etc"
    (cfg_dir / "devices").mkdir(parents=True)
    g = json.loads((Path(__file__).parents[1] / "config" / "config.json").read_text())
    (cfg_dir / "config.json").write_text(json.dumps(g))
    (cfg_dir / "devices" / "nas.json").write_text(
        json.dumps(
            {"device_type": "indoor_nas", "storage": {"mounts": {"//NAS-1/videos": "/volume1/videos"}}}
        )
    )
    (cfg_dir / "devices" / "gpu.json").write_text(json.dumps({"device_type": "rtx_4090"}))
    nas = Storage(
        load_config(Settings.from_env({"DASHCAM_CONFIG_DIR": str(cfg_dir), "DASHCAM_DEVICE": "nas"}))
    )
    assert nas["raw"].root == "/volume1/videos/raw"
    assert nas["heavy_output"].root == "/volume1/videos/heavy_output"
    # no mount for the shed share on this device: an fsspec SMB URL
    assert nas["archive"].root == "smb://shed-nas/archive"
    gpu = Storage(
        load_config(Settings.from_env({"DASHCAM_CONFIG_DIR": str(cfg_dir), "DASHCAM_DEVICE": "gpu"}))
    )
    assert gpu["raw"].root == "smb://nas-1/videos/raw"
    assert not gpu["raw"].is_local


@pytest.mark.parametrize(
    ("loc", "mounts", "want"),
    [
        ("//nas-1/videos/raw/", {"//nas-1/videos/": "/mnt/v"}, "/mnt/v/raw"),
        ("\\\\nas-1\\videos\\Raw", {"//nas-1/videos/": "Z:/"}, "Z:/Raw"),
        ("smb://nas-1/videos/raw", {"//nas-1/videos": "/mnt/v"}, "/mnt/v/raw"),
        ("//nas-1/videos/raw", {}, "smb://nas-1/videos/raw"),
        ("file:///srv/x", {}, "/srv/x"),
        ("s3://bucket/x", {}, "s3://bucket/x"),
        ("/data/raw", {"//nas-1/videos/": "/mnt/v"}, "/data/raw"),
    ],
)
def test_resolve_location(loc: str, mounts: dict[str, str], want: str) -> None:
    assert resolve_location(loc, mounts).replace("\\", "/") == want


def test_keys_are_deterministic_and_safe() -> None:
    assert clip_key(H, "manifest.json") == f"01/{H[:16]}/manifest.json"
    for bad in ["../x", "/etc/passwd", "a/../../b", "a\\b", "C:/x", "a\x00b", "", "a//b", "x/.f.tmp-1"]:
        with pytest.raises(BadKey):
            check_key(bad)
    with pytest.raises(BadKey):
        clip_key("not-a-hash", "x")


def test_atomic_write_never_exposes_a_partial_file(tmp_path: Path) -> None:
    area = Area("heavy_output", str(tmp_path))
    key = clip_key(H, "thumb.jpg")
    with pytest.raises(RuntimeError), area.atomic_path(key) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("crash mid-write")
    assert not area.exists(key)
    assert list(area.keys()) == []
    assert not any(p.is_file() for p in tmp_path.rglob("*"))  # the temp file went too
    area.write_bytes(key, b"whole")
    assert area.path(key).read_bytes() == b"whole"
    area.write_bytes(key, b"again")  # a rerun replaces in place
    assert list(area.keys()) == [key]
    assert area.sha256(key) == file_digest(area.path(key))


def test_leftover_temp_files_are_invisible_and_cleaned(tmp_path: Path) -> None:
    area = Area("raw", str(tmp_path))
    key = clip_key(H, "clip.MP4")
    area.write_bytes(key, b"x")
    stale = area.path(key).with_name(".clip.MP4.tmp-99-deadbeef")
    stale.write_bytes(b"partial")  # what a power cut leaves
    os.utime(stale, (0, 0))
    assert list(area.keys()) == [key]
    assert area.clean_temp(older_than_s=60) == 1
    assert not stale.exists() and area.exists(key)


def test_delete_prunes_empty_folders(tmp_path: Path) -> None:
    area = Area("preproc", str(tmp_path / "p"))
    key = clip_key(H, "m.json")
    area.write_bytes(key, b"{}")
    assert area.delete(key) is True
    assert area.delete(key) is False
    assert list((tmp_path / "p").iterdir()) == []


def test_fsspec_area_round_trip(tmp_path: Path) -> None:
    area = Area("archive", "memory://dashcam-test/archive")
    key = clip_key(H, "crop.png")
    src = tmp_path / "crop.png"
    src.write_bytes(b"png-bytes")
    area.put_file(key, src)
    assert area.exists(key) and area.size(key) == 9
    assert list(area.keys()) == [key]
    with area.atomic_path(clip_key(H, "b.bin"), scratch=tmp_path) as tmp:
        tmp.write_bytes(b"abc")
    assert area.sha256(clip_key(H, "b.bin")) == hashlib.sha256(b"abc").hexdigest()
    assert not tmp.exists()  # the local staging file is gone
    assert area.delete(key) and not area.exists(key)
    with pytest.raises(StorageError):
        area.path(key)


def test_a_full_disk_is_named_by_the_place_it_hit(tmp_path: Path) -> None:
    import errno
    import sqlite3

    from dashcam.storage import no_space, where_full

    places = {"raw": tmp_path / "raw", "heavy_output": tmp_path / "heavy", "database": tmp_path}
    for p in places.values():
        p.mkdir(exist_ok=True)
    full = OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "heavy" / "ab" / "x.jpg"))
    assert no_space(full) and not no_space(OSError(errno.EACCES, "Permission denied"))
    assert where_full(places, full).startswith(f"heavy_output ({tmp_path / 'heavy'}) is full: ")
    # SQLite names no file: its own words point at the database's folder
    db = sqlite3.OperationalError("database or disk is full")
    assert no_space(db) and where_full(places, db).startswith(f"database ({tmp_path}) is full: ")
    wrapped = RuntimeError("write failed")
    wrapped.__cause__ = OSError(errno.EROFS, "Read-only file system", str(tmp_path / "raw" / "a.mp4"))
    assert no_space(wrapped) and where_full(places, wrapped) == f"raw ({tmp_path / 'raw'}) is read-only"
