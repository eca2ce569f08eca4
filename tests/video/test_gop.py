"""Reading a clip GOP by GOP: packets demuxed, keyframes decoded alone, sizes as a motion hint."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from dashcam.video.decode import VideoError, iter_frames
from dashcam.video.gop import GopReader
from tests.media import still_clip
from tests.support import need_tool, testdata_file


def _ffprobe_packets(path: Path) -> list[tuple[float, int, bool]]:
    """(time, size, keyframe) of every video packet, as ffprobe lists them."""
    args = ["-select_streams", "v:0", "-show_entries", "packet=pts_time,size,flags", "-of", "csv=p=0"]
    out = subprocess.run(
        [need_tool("ffprobe"), "-v", "error", *args, str(path)], capture_output=True, text=True, check=True
    ).stdout
    rows = [line.split(",") for line in out.split()]
    return [(float(t), int(size), "K" in flags) for t, size, flags in rows]


def test_gops_start_at_the_keyframes_ffprobe_lists() -> None:
    clip = testdata_file("video/lanes/solidWhiteRight.mp4")
    with GopReader(clip) as r:
        gops = list(r.gops())
    packets = _ffprobe_packets(clip)
    assert [round(g.t, 3) for g in gops] == [round(t, 3) for t, _, key in packets if key]
    assert all(a.end == b.t for a, b in zip(gops, gops[1:], strict=False))
    # every packet with picture data, each in its GOP
    assert sum(len(g.packets) for g in gops) == sum(1 for _, size, _ in packets if size > 0)


def test_a_keyframe_decoded_alone_is_the_frame_a_full_decode_gives() -> None:
    clip = testdata_file("video/lanes/solidWhiteRight.mp4")
    with GopReader(clip, max_width=480) as r:
        gops = list(r.gops())
        far = gops[-1]
        alone = r.keyframe(far)  # decoded without any GOP before it
        inside = r.frames(gops[2], 0.5)
    full = next(f for f in iter_frames(clip, start=far.t, max_width=480) if abs(f.t - far.t) < 1e-3)
    assert alone.t == pytest.approx(far.t) and alone.keyframe
    assert np.array_equal(alone.image, full.image)
    # inside a GOP: its frames after the keyframe, at most one per 0.5 s
    times = [f.t for f in inside]
    assert times and all(gops[2].t < t < gops[2].end for t in times)
    assert all(b - a >= 0.45 for a, b in zip(times, times[1:], strict=False))


def test_activity_tells_a_still_scene_from_a_moving_one(tmp_path: Path) -> None:
    still = still_clip(
        tmp_path / "still.mp4", testdata_file("video/highway/test_images/test2.jpg"), seconds=6
    )
    with GopReader(still) as r:
        quiet = max(g.activity for g in list(r.gops())[1:])
    with GopReader(testdata_file("video/lanes/solidWhiteRight.mp4")) as r:
        busy = min(g.activity for g in r.gops())
    assert busy > 10 * quiet, (busy, quiet)


def test_damaged_picture_data_is_an_error_not_an_empty_clip(tmp_path: Path) -> None:
    data = bytearray(testdata_file("video/lanes/solidWhiteRight.mp4").read_bytes())
    mdat = data.find(b"mdat")
    data[mdat + 8 : len(data) - 40000] = bytes(len(data) - 40000 - mdat - 8)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(bytes(data))
    with GopReader(bad) as r, pytest.raises(VideoError, match=r"^bad\.mp4: decode error"):
        for g in r.gops():
            r.keyframe(g)
