from __future__ import annotations

import hashlib
import os
from datetime import datetime
from pathlib import Path

import pytest

from dashcam.camera.importer import import_folder
from dashcam.camera.sync import sync
from tests.camera.fake_camera import files_outside, final_names, mp4_variant

F = "2023_0815_120000_000101F.MP4"
R = "2023_0815_120000_000102R.MP4"
PF = "2023_0815_130000_000104PF.MP4"
EF = "2023_0815_120200_000105EF.MP4"


@pytest.fixture
def sd_card(tmp_path: Path, highway_mp4: bytes, recorded_mp4: bytes) -> Path:
    """An SD card copied to disk: the three Viofo folders plus the usual litter."""
    card = tmp_path / "card"
    movie = card / "DCIM" / "Movie"
    for folder, name, data in [
        (movie, F, mp4_variant(highway_mp4, F)),
        (movie, R, mp4_variant(highway_mp4, R)),
        (movie / "Parking", PF, mp4_variant(recorded_mp4, PF)),
        (movie / "RO", EF, mp4_variant(recorded_mp4, EF)),
        (movie, "holiday.mp4", mp4_variant(recorded_mp4, "holiday")),
        (movie, "2023_0815_120100_000103F.MP4", recorded_mp4[:10_000]),  # card pulled while recording
        (movie, "._" + F, b"\0\5\26\7 AppleDouble"),
        (movie, "notes.txt", b"hello"),
        (movie, "2023_0815_120300_000106F.MP4.part", b"half"),
        (card / ".Trashes", "old.MP4", mp4_variant(recorded_mp4, "old")),
    ]:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    os.utime(movie / "holiday.mp4", (1_700_000_000, 1_700_000_000))
    (movie / "link.MP4").symlink_to(movie / F)
    return card


def test_import_sd_card(sd_card: Path, tmp_path: Path):
    raw = tmp_path / "raw"
    report = import_folder(sd_card, raw)
    assert {f.path.name for f in report.imported} == {F, R, PF, EF, "holiday.mp4"}
    assert final_names(raw) == {F, R, PF, EF, "holiday.mp4"}
    assert files_outside(tmp_path / "raw", raw) == []
    for f in report.imported:
        assert f.path.read_bytes() == f.source.read_bytes()
        assert f.sha256 == hashlib.sha256(f.source.read_bytes()).hexdigest()
        assert f.size == f.source.stat().st_size
        assert f.path.stat().st_mtime == pytest.approx(f.source.stat().st_mtime, abs=1)
    skipped = report.skipped
    assert skipped["DCIM/Movie/2023_0815_120100_000103F.MP4"].startswith("unfinished MP4")
    assert skipped["DCIM/Movie/._" + F] == "hidden file"
    assert skipped["DCIM/Movie/notes.txt"] == "not a video"
    # a link named like a clip is passed over with a line of its own, never followed
    assert report.passed_over["DCIM/Movie/link.MP4"] == "a symbolic link (links are not followed)"
    assert "unfinished download" in skipped["DCIM/Movie/2023_0815_120300_000106F.MP4.part"]
    assert not any(".Trashes" in k for k in skipped)  # hidden folders are not even walked
    assert report.failed == {} and report.removed == []
    by_name = {f.path.name: f for f in report.imported}
    assert by_name[PF].clip.kind == "parking" and by_name[EF].clip.kind == "event"
    holiday = by_name["holiday.mp4"].clip
    assert not holiday.matched and holiday.recorded_local == datetime.fromtimestamp(1_700_000_000)

    again = import_folder(sd_card, raw)
    assert again.imported == [] and again.failed == {}
    assert {k for k, v in again.skipped.items() if v == "already imported"} == {
        f"DCIM/Movie/{F}",
        f"DCIM/Movie/{R}",
        f"DCIM/Movie/Parking/{PF}",
        f"DCIM/Movie/RO/{EF}",
        "DCIM/Movie/holiday.mp4",
    }


def test_move_removes_sources_only_after_verification(sd_card: Path, tmp_path: Path):
    raw = tmp_path / "raw"
    report = import_folder(sd_card, raw, move=True)
    assert len(report.removed) == 5
    assert not (sd_card / "DCIM" / "Movie" / F).exists()
    assert (sd_card / "DCIM" / "Movie" / "2023_0815_120100_000103F.MP4").exists()  # unfinished: kept
    assert final_names(raw) == {F, R, PF, EF, "holiday.mp4"}
    assert import_folder(sd_card, raw, move=True).imported == []


def test_same_clip_twice_is_one_file(tmp_path: Path, highway_mp4: bytes):
    # A viofosync folder groups by day; the same clip may sit in two of them after a re-download.
    src, raw = tmp_path / "viofosync", tmp_path / "raw"
    for day in ("2023-08-15", "backup"):
        (src / day).mkdir(parents=True)
        (src / day / F).write_bytes(highway_mp4)
    report = import_folder(src, raw)
    assert len(report.imported) == 1
    assert report.skipped == {f"backup/{F}": "already imported"} or report.skipped == {
        f"2023-08-15/{F}": "already imported"
    }


def test_name_collision_with_different_content_is_refused(tmp_path: Path, highway_mp4: bytes):
    src, raw = tmp_path / "card", tmp_path / "raw"
    src.mkdir()
    raw.mkdir()
    (src / F).write_bytes(mp4_variant(highway_mp4, "a"))
    (raw / F).write_bytes(mp4_variant(highway_mp4, "b"))
    report = import_folder(src, raw)
    assert "different content" in report.failed[F]
    assert (raw / F).read_bytes() == mp4_variant(highway_mp4, "b")


def test_destination_inside_source_is_not_reimported(tmp_path: Path, highway_mp4: bytes):
    src = tmp_path / "card"
    src.mkdir()
    (src / F).write_bytes(highway_mp4)
    raw = src / "raw"
    assert [f.path.name for f in import_folder(src, raw).imported] == [F]
    assert import_folder(src, raw).imported == []
    with pytest.raises(ValueError, match="same folder"):
        import_folder(raw, raw)
    with pytest.raises(NotADirectoryError):
        import_folder(tmp_path / "nope", raw)


def test_camera_and_card_copies_of_one_clip_land_once(stocked_camera, make_client, tmp_path: Path):
    raw = tmp_path / "raw"
    assert sync(make_client(stocked_camera.url), raw).complete
    card = tmp_path / "card"
    card.mkdir()
    (card / F).write_bytes(stocked_camera.originals[F])
    report = import_folder(card, raw)
    assert report.imported == [] and report.skipped == {F: "already imported"}
