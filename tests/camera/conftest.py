"""Fixtures for camera tests, reusable by flow tests: a fake camera on loopback and real MP4 bytes.

Usage::

    def test_x(fake_camera, highway_mp4):
        fake_camera.add_file("Movie", "2023_0815_120000_000101F.MP4", highway_mp4)
        fake_camera.faults.drop_after["2023_0815_120000_000101F.MP4"] = 100_000
        client = CameraClient(fake_camera.url, sleep=lambda s: None)
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator

import pytest

from dashcam.camera.client import CameraClient
from tests.camera.fake_camera import FakeCamera, mp4_variant
from tests.support import need_tool, testdata_file

# The clips a stocked camera holds: (folder, name, source fixture, tag).
STOCK = [
    ("Movie", "2023_0815_120000_000101F.MP4", "highway"),
    ("Movie", "2023_0815_120000_000102R.MP4", "highway"),
    ("Movie", "2023_0815_120100_000103F.MP4", "lanes"),
    ("Parking", "2023_0815_130000_000104PF.MP4", "recorded"),
    ("RO", "2023_0815_120200_000105EF.MP4", "highway"),
]


@pytest.fixture(scope="session")
def highway_mp4() -> bytes:
    """A real dashcam-like MP4 (about 800 kB, moov first)."""
    return testdata_file("video/highway/test_video.mp4").read_bytes()


@pytest.fixture(scope="session")
def lanes_mp4() -> bytes:
    """A real MP4 of about 2.6 MB (moov first)."""
    return testdata_file("video/lanes/solidWhiteRight.mp4").read_bytes()


@pytest.fixture(scope="session")
def recorded_mp4(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A small MP4 with its moov at the end, as a camera writes it: any prefix of it is unfinished."""
    ffmpeg = need_tool("ffmpeg")
    out = tmp_path_factory.mktemp("mp4") / "recorded.mp4"
    subprocess.run(
        [ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-t", "2"]
        + ["-c:v", "mpeg4", "-f", "mp4", str(out)],
        check=True,
        timeout=60,
    )
    return out.read_bytes()


@pytest.fixture
def fake_camera() -> Iterator[FakeCamera]:
    """An empty fake camera, serving on 127.0.0.1 until the test ends."""
    camera = FakeCamera().start()
    yield camera
    camera.stop()


@pytest.fixture
def stocked_camera(
    fake_camera: FakeCamera, highway_mp4: bytes, lanes_mp4: bytes, recorded_mp4: bytes
) -> FakeCamera:
    """The fake camera holding :data:`STOCK`: front+rear of one moment, a parking clip, a protected one."""
    sources = {"highway": highway_mp4, "lanes": lanes_mp4, "recorded": recorded_mp4}
    for folder, name, source in STOCK:
        fake_camera.add_file(folder, name, mp4_variant(sources[source], name))
    return fake_camera


@pytest.fixture
def sleeps() -> list[float]:
    """Delays the client asked for (it never really sleeps in tests)."""
    return []


@pytest.fixture
def make_client(sleeps: list[float]) -> Iterator[Callable[..., CameraClient]]:
    """Build clients with short timeouts and a recorded, non-blocking sleep; all closed at the end."""
    clients: list[CameraClient] = []

    def make(url: str, **kwargs: object) -> CameraClient:
        opts: dict[str, object] = {"timeout": 2.0, "connect_timeout": 1.0, "retries": 2, "backoff": 0.5}
        opts.update(kwargs)
        client = CameraClient(url, sleep=sleeps.append, **opts)  # type: ignore[arg-type]
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
