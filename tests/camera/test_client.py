from __future__ import annotations

from pathlib import Path

import pytest

from dashcam.camera.client import CameraClient, CameraError, CameraUnreachable, DownloadError
from tests.camera.fake_camera import FakeCamera, mp4_variant

F = "2023_0815_120000_000101F.MP4"


@pytest.fixture
def one_clip(fake_camera: FakeCamera, highway_mp4: bytes) -> FakeCamera:
    fake_camera.add_file("Movie", F, mp4_variant(highway_mp4, F))
    return fake_camera


def test_list_files_xml_and_html_agree(one_clip, make_client):
    client = make_client(one_clip.url)
    xml = client.list_files()
    one_clip.faults.xml_listing = False
    html = client.list_files()
    assert (xml.source, html.source) == ("xml", "html")
    assert [f.url_path for f in xml.files] == [f.url_path for f in html.files] == [f"/DCIM/Movie/{F}"]
    assert html.files[0].size is None
    assert client.with_size(html.files[0]).size == xml.files[0].size == len(one_clip.originals[F])


def test_download_is_verified_and_atomic(one_clip, make_client, tmp_path):
    client = make_client(one_clip.url)
    (remote,) = client.list_files().files
    path = client.download(remote, tmp_path / "raw")
    assert path == tmp_path / "raw" / F
    assert path.read_bytes() == one_clip.originals[F]
    assert sorted(p.name for p in (tmp_path / "raw").iterdir()) == [F]


def test_camera_ignoring_range_restarts_from_zero(one_clip, make_client, tmp_path):
    one_clip.faults.ignore_range = True
    one_clip.faults.drop_after[F] = 200_000
    client = make_client(one_clip.url)
    (remote,) = client.list_files().files
    assert client.download(remote, tmp_path).read_bytes() == one_clip.originals[F]


def test_whole_size_without_moov_is_refused(fake_camera, recorded_mp4, make_client, tmp_path):
    # What a camera leaves when power dies mid-clip: the media data, and no moov after it.
    broken = recorded_mp4[: recorded_mp4.rindex(b"moov") - 4]
    fake_camera.add_file("Movie", F, broken)
    client = make_client(fake_camera.url)
    (remote,) = client.list_files().files
    with pytest.raises(DownloadError, match=F):
        client.download(remote, tmp_path)
    assert list(tmp_path.iterdir()) == []  # neither the final name nor a useless .part


def test_planted_part_symlink_is_not_followed(one_clip, make_client, tmp_path):
    raw, victim = tmp_path / "raw", tmp_path / "victim"
    raw.mkdir()
    victim.write_bytes(b"precious")
    (raw / f"{F}.part").symlink_to(victim)
    client = make_client(one_clip.url)
    (remote,) = client.list_files().files
    assert client.download(remote, raw).read_bytes() == one_clip.originals[F]
    assert victim.read_bytes() == b"precious"


def test_oversized_part_is_restarted(one_clip, make_client, tmp_path):
    (tmp_path / f"{F}.part").write_bytes(b"x" * (len(one_clip.originals[F]) + 10))
    client = make_client(one_clip.url)
    (remote,) = client.list_files().files
    assert client.download(remote, tmp_path).read_bytes() == one_clip.originals[F]


def test_delete(one_clip, make_client):
    client = make_client(one_clip.url)
    (remote,) = client.list_files().files
    one_clip.faults.refuse_delete = True
    with pytest.raises(CameraError, match="refused"):
        client.delete(remote)
    one_clip.faults.refuse_delete = False
    client.delete(remote)
    assert one_clip.deleted == [F] and client.list_files().files == []
    assert any("cmd=4003" in path and "A%3A%5CDCIM%5CMovie%5C" in path for _, path, _ in one_clip.requests)


def test_no_camera(make_client, fake_camera):
    fake_camera.vanish()
    with pytest.raises(CameraUnreachable, match="no camera"):
        make_client(fake_camera.url).list_files()


def test_listed_file_gone_mid_download_is_reported(one_clip, make_client, tmp_path):
    client = make_client(one_clip.url)
    (remote,) = client.list_files().files
    one_clip.remove_file(F)
    with pytest.raises(DownloadError, match="404"):
        client.download(remote, tmp_path)


def test_bad_connection_count():
    with pytest.raises(ValueError, match="max_connections"):
        CameraClient("http://127.0.0.1:1", max_connections=0)


def test_context_manager_closes(one_clip):
    with CameraClient(one_clip.url, sleep=lambda s: None) as client:
        assert client.list_files().files
    with pytest.raises(RuntimeError):
        client.list_files()


def test_hostile_name_cannot_be_downloaded_even_directly(one_clip, make_client, tmp_path: Path):
    from dataclasses import replace

    from dashcam.camera.names import HostileName

    client = make_client(one_clip.url)
    (remote,) = client.list_files().files
    with pytest.raises(HostileName):
        client.download(replace(remote, name="../escape.MP4"), tmp_path / "raw")
    assert not (tmp_path / "escape.MP4").exists()
