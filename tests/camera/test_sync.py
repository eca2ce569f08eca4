"""Sync passes against the fake camera, one fault at a time.

For each fault: nothing partial is visible under a final name, nothing lands outside ``raw/``, the
next pass completes what is missing, and a pass over an unchanged camera downloads nothing.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from dashcam.camera.sync import SyncReport, sync
from tests.camera.conftest import STOCK
from tests.camera.fake_camera import (
    FakeCamera,
    HostileEntry,
    assert_intact,
    files_outside,
    final_names,
    mp4_variant,
)

ALL = {name for _, name, _ in STOCK}
OLDEST_FIRST = [
    "2023_0815_120000_000101F.MP4",
    "2023_0815_120000_000102R.MP4",
    "2023_0815_120100_000103F.MP4",
    "2023_0815_120200_000105EF.MP4",
    "2023_0815_130000_000104PF.MP4",
]


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    return tmp_path / "raw"


def settle(camera: FakeCamera, client, raw: Path, tmp_path: Path) -> None:
    """A pass over an unchanged camera downloads nothing, and everything in raw/ is whole."""
    before = len(camera.downloads)
    again = sync(client, raw)
    assert again.downloaded == [] and not again.failed, again
    assert len(camera.downloads) == before
    assert set(again.skipped) >= final_names(raw) & set(camera.files)
    assert_intact(raw, camera)
    assert files_outside(tmp_path, raw) == []
    assert not [p for p in raw.iterdir() if p.name.endswith(".part")]


def names(report: SyncReport) -> list[str]:
    return [p.name for p in report.downloaded]


@pytest.mark.parametrize("xml", [True, False], ids=["xml", "html"])
def test_full_pass_then_nothing(stocked_camera, make_client, raw, tmp_path, sleeps, xml):
    stocked_camera.faults.xml_listing = xml
    client = make_client(stocked_camera.url)
    report = sync(client, raw)
    assert report.listing_source == ("xml" if xml else "html")
    assert names(report) == OLDEST_FIRST
    assert report.complete and report.camera_reachable and not report.rejected
    assert sleeps == [2.0]  # the pause between the two looks, injected
    assert final_names(raw) == ALL
    settle(stocked_camera, client, raw, tmp_path)


def test_dropped_connection_resumes_with_range(stocked_camera, make_client, raw, tmp_path):
    name = "2023_0815_120100_000103F.MP4"
    stocked_camera.faults.drop_after[name] = 300_000
    report = sync(make_client(stocked_camera.url), raw)
    assert report.complete and name in names(report)
    ranges = [rng for _, path, rng in stocked_camera.requests if path.endswith(name)]
    assert ranges[-1].startswith("bytes=300000-"), ranges
    settle(stocked_camera, make_client(stocked_camera.url), raw, tmp_path)


def test_dropped_connection_without_retries_leaves_only_a_part(stocked_camera, make_client, raw, tmp_path):
    name = "2023_0815_120100_000103F.MP4"
    stocked_camera.faults.drop_after[name] = 300_000
    client = make_client(stocked_camera.url, retries=0)
    first = sync(client, raw)
    assert "gave up" in first.failed[name] and not first.complete
    assert name not in final_names(raw) and (raw / f"{name}.part").stat().st_size == 300_000
    assert_intact(raw, stocked_camera)
    second = sync(client, raw)
    assert names(second) == [name]
    assert stocked_camera.requests[-1][2] == f"bytes=300000-{len(stocked_camera.originals[name]) - 1}"
    settle(stocked_camera, client, raw, tmp_path)


def test_slow_trickle_completes(fake_camera, recorded_mp4, make_client, raw, tmp_path):
    fake_camera.add_file("Movie", "2023_0815_120000_000101F.MP4", recorded_mp4)
    fake_camera.faults.trickle_chunk = 2048
    fake_camera.faults.trickle_delay = 0.005
    report = sync(make_client(fake_camera.url), raw)
    assert report.complete and names(report) == ["2023_0815_120000_000101F.MP4"]
    settle(fake_camera, make_client(fake_camera.url), raw, tmp_path)


def test_stalled_transfer_times_out_and_resumes(stocked_camera, make_client, raw, tmp_path, sleeps):
    name = "2023_0815_120000_000101F.MP4"
    stocked_camera.faults.stall_after[name] = 100_000
    report = sync(make_client(stocked_camera.url, timeout=0.4), raw)
    assert report.complete and name in names(report)
    assert 0.5 in sleeps  # one backoff after the read timeout
    settle(stocked_camera, make_client(stocked_camera.url), raw, tmp_path)


def test_listed_file_answering_404(stocked_camera, make_client, raw, tmp_path):
    name = "2023_0815_120100_000103F.MP4"
    stocked_camera.faults.missing.add(name)
    client = make_client(stocked_camera.url)
    first = sync(client, raw)
    assert "404" in first.failed[name]
    assert final_names(raw) == ALL - {name} and not (raw / f"{name}.part").exists()
    stocked_camera.faults.missing.clear()
    assert names(sync(client, raw)) == [name]
    settle(stocked_camera, client, raw, tmp_path)


@pytest.mark.parametrize("xml", [True, False], ids=["xml", "html"])
def test_growing_file_is_left_for_the_next_pass(fake_camera, recorded_mp4, make_client, raw, tmp_path, xml):
    fake_camera.faults.xml_listing = xml
    done, rec = "2023_0815_120000_000101F.MP4", "2023_0815_120100_000102F.MP4"
    fake_camera.add_file("Movie", done, recorded_mp4)
    fake_camera.add_file("Movie", rec, mp4_variant(recorded_mp4, rec))
    fake_camera.grow(rec, [8_000, 16_000, 24_000])
    client = make_client(fake_camera.url)
    first = sync(client, raw)
    assert first.still_recording == [rec] and names(first) == [done] and not first.complete
    assert final_names(raw) == {done} and not (raw / f"{rec}.part").exists()
    assert rec not in fake_camera.downloads  # never even fetched
    fake_camera.finish(rec)
    assert names(sync(client, raw)) == [rec]
    settle(fake_camera, client, raw, tmp_path)


def test_empty_file_is_still_recording(fake_camera, make_client, raw):
    fake_camera.add_file("Movie", "2023_0815_120000_000101F.MP4", b"")
    report = sync(make_client(fake_camera.url), raw)
    assert report.still_recording == ["2023_0815_120000_000101F.MP4"]
    assert final_names(raw) == set()


HOSTILE = [
    HostileEntry("../../evil.MP4", r"A:\DCIM\Movie\..\..\evil.MP4", href="/DCIM/Movie/../../evil.MP4"),
    HostileEntry("evil.MP4", r"A:\DCIM\Movie\..\..\..\evil.MP4", href="/DCIM/Movie/%2e%2e/evil.MP4"),
    HostileEntry("/tmp/abs.MP4", "/tmp/abs.MP4", href="/tmp/abs.MP4"),
    HostileEntry("sub\\x.MP4", r"A:\DCIM\Movie\sub\x.MP4", href="/DCIM/Movie/sub%5Cx.MP4"),
    HostileEntry("nul\x00.MP4", "A:\\DCIM\\Movie\\nul\x00.MP4", href="/DCIM/Movie/nul%00.MP4"),
    HostileEntry("huge.MP4", r"A:\DCIM\Movie\huge.MP4", size="1" + "0" * 20, href="/DCIM/Movie/huge.MP4"),
    HostileEntry(".hidden.MP4", r"A:\DCIM\Movie\.hidden.MP4", href="/DCIM/Movie/.hidden.MP4"),
    HostileEntry("x.MP4.part", r"A:\DCIM\Movie\x.MP4.part"),
]


@pytest.mark.parametrize("xml", [True, False], ids=["xml", "html"])
def test_hostile_listing_writes_nothing_outside_raw(stocked_camera, make_client, raw, tmp_path, xml):
    stocked_camera.faults.xml_listing = xml
    stocked_camera.faults.hostile = list(HOSTILE)
    report = sync(make_client(stocked_camera.url), raw)
    assert set(names(report)) == ALL and not report.failed
    # HTML pages round sizes, so there the lie about huge.MP4 only shows when the camera is asked.
    assert any("absurd size" in r.reason for r in report.rejected)
    assert len(report.rejected) >= 5, report.rejected
    assert all(r.reason and "\n" not in r.reason for r in report.rejected)
    assert files_outside(tmp_path, raw) == []
    assert not (tmp_path.parent / "evil.MP4").exists() and not Path("/tmp/abs.MP4").exists()
    settle(stocked_camera, make_client(stocked_camera.url), raw, tmp_path)


def test_camera_vanishing_mid_sync(stocked_camera, make_client, raw, tmp_path):
    stocked_camera.faults.vanish_after_bytes = 1_200_000  # inside the second clip
    client = make_client(stocked_camera.url)
    first = sync(client, raw)
    assert first.camera_reachable and first.camera_lost and not first.complete
    assert names(first) == OLDEST_FIRST[:1]
    assert set(first.failed) == set(OLDEST_FIRST[1:])
    assert all("camera went away" in why for why in first.failed.values())
    assert_intact(raw, stocked_camera)
    # The car is away now: a pass is "no camera", not an error.
    away = sync(client, raw)
    assert not away.camera_reachable and not away.camera_lost and not away.failed
    stocked_camera.start()  # the car is back
    second = sync(client, raw)
    assert set(names(second)) == set(OLDEST_FIRST[1:]) and second.complete
    settle(stocked_camera, client, raw, tmp_path)


def test_no_camera_is_a_state_not_an_error(fake_camera, make_client, raw, sleeps):
    fake_camera.vanish()
    report = sync(make_client(fake_camera.url), raw)
    assert not report.camera_reachable and report.listing_source is None and not report.complete
    assert sleeps == []  # a refused connection is the car being away: no retry loop
    assert not raw.exists() or final_names(raw) == set()


def test_protected_only(stocked_camera, make_client, raw):
    stocked_camera.files["2023_0815_120000_000102R.MP4"].protected = True  # ATTR 33 outside RO
    report = sync(make_client(stocked_camera.url), raw, protected_only=True)
    assert names(report) == ["2023_0815_120000_000102R.MP4", "2023_0815_120200_000105EF.MP4"]


def test_delete_after_verified_download(stocked_camera, make_client, raw, tmp_path):
    name = "2023_0815_120100_000103F.MP4"
    stocked_camera.faults.missing.add(name)
    client = make_client(stocked_camera.url)
    report = sync(client, raw, delete_after=True)
    assert sorted(report.deleted) == sorted(ALL - {name})
    assert sorted(stocked_camera.deleted) == sorted(ALL - {name})
    assert set(stocked_camera.files) == {name}  # the failed one stays on the camera
    stocked_camera.faults.missing.clear()
    assert names(sync(client, raw, delete_after=True)) == [name]
    settle(stocked_camera, client, raw, tmp_path)


def test_refused_delete_is_a_warning(stocked_camera, make_client, raw):
    stocked_camera.faults.refuse_delete = True
    report = sync(make_client(stocked_camera.url), raw, delete_after=True)
    assert set(names(report)) == ALL and report.deleted == [] and not report.failed
    assert len(report.warnings) == len(ALL) and "refused to delete" in report.warnings[0]


def test_dry_run_writes_and_downloads_nothing(stocked_camera, make_client, raw):
    report = sync(make_client(stocked_camera.url), raw, dry_run=True, order="newest")
    assert report.planned == OLDEST_FIRST[::-1]
    assert report.downloaded == [] and stocked_camera.downloads == [] and final_names(raw) == set()


def test_newest_first(stocked_camera, make_client, raw):
    assert names(sync(make_client(stocked_camera.url), raw, order="newest")) == OLDEST_FIRST[::-1]


def test_parallel_connections_with_faults(stocked_camera, make_client, raw, tmp_path):
    stocked_camera.faults.drop_after.update({n: 50_000 for n in OLDEST_FIRST[:3]})
    client = make_client(stocked_camera.url, max_connections=3)
    main = threading.get_ident()
    seen: list[tuple[str, int]] = []
    report = sync(client, raw, on_file=lambda remote, path: seen.append((path.name, threading.get_ident())))
    assert set(names(report)) == ALL and report.complete
    assert names(report) == OLDEST_FIRST  # reported in order, whatever finished first
    assert {n for n, _ in seen} == ALL and {t for _, t in seen} == {main}
    settle(stocked_camera, client, raw, tmp_path)


def test_already_have_predicate_skips(stocked_camera, make_client, raw):
    report = sync(make_client(stocked_camera.url), raw, already_have=lambda r: r.folder == "movie")
    assert set(names(report)) == {"2023_0815_120200_000105EF.MP4", "2023_0815_130000_000104PF.MP4"}
    assert set(report.skipped) == {"2023_0815_120000_000101F.MP4", "2023_0815_120000_000102R.MP4"} | {
        "2023_0815_120100_000103F.MP4"
    }


def test_different_file_under_the_same_name_is_not_overwritten(stocked_camera, make_client, raw):
    raw.mkdir()
    (raw / "2023_0815_120000_000101F.MP4").write_bytes(b"someone else's clip")
    report = sync(make_client(stocked_camera.url), raw)
    assert "exists with" in report.failed["2023_0815_120000_000101F.MP4"]
    assert (raw / "2023_0815_120000_000101F.MP4").read_bytes() == b"someone else's clip"


def test_unknown_name_is_still_ingested_with_a_warning(fake_camera, highway_mp4, make_client, raw):
    fake_camera.add_file("Movie", "holiday.MP4", highway_mp4)
    report = sync(make_client(fake_camera.url), raw)
    assert names(report) == ["holiday.MP4"]
    assert any("holiday.MP4" in w and "file time" in w for w in report.warnings)
