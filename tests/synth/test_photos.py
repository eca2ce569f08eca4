"""`--images` mode with real photos: each shown a while, plates tracked through the zoom and pan."""

from __future__ import annotations

import shutil
from pathlib import Path

import av
import pytest

from dashcam.gps import read_track
from dashcam.synth import synthesize
from dashcam.synth.photos import load_plate_boxes
from tests.support import testdata_file

PHOTOS = ["eu1.jpg", "eu11.jpg", "eu2.jpg"]


def test_photo_drive_from_three_real_photos(tmp_path: Path) -> None:
    src = testdata_file("plates/eu")
    boxes = load_plate_boxes(src)
    assert all(name in boxes for name in PHOTOS)
    folder = tmp_path / "eu"
    folder.mkdir()
    for name in PHOTOS:
        shutil.copy(src / name, folder / name)
    (tmp_path / "groundtruth.csv").write_text(
        (src.parent / "groundtruth.csv").read_text()
    )  # the testdata layout: the csv one level up, rows keyed by set and image
    res = synthesize(
        tmp_path / "photos.mp4", images_dir=folder, photo_seconds=2.0, fps=10, size=(640, 360), seed=2
    )
    truth = res.truth
    assert truth["mode"] == "photos" and truth["seconds"] == 6.0
    assert [p["image"] for p in truth["photos"]] == sorted(PHOTOS)
    with av.open(str(res.path)) as c:
        assert (c.streams.video[0].width, c.streams.video[0].height) == (640, 360)
        assert sum(1 for _ in c.decode(video=0)) == 60
    assert len(read_track(res.path).points) == 6
    expected = {boxes[name][0].text: k for k, name in enumerate(sorted(PHOTOS))}
    assert {p["text"] for p in truth["plates"]} == set(expected)
    for p in truth["plates"]:
        k = expected[p["text"]]
        assert p["ever_legible"], p["text"]
        for t0, t1 in p["legible"]:
            assert 2.0 * k <= t0 < t1 <= 2.0 * (k + 1), "legible only while its photo is shown"
        for s in p["samples"]:
            x1, y1, x2, y2 = s["box"]
            assert 0 <= x1 < x2 <= 640 and 0 <= y1 < y2 <= 360


def test_photo_folder_without_images_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no images"):
        synthesize(tmp_path / "x.mp4", images_dir=tmp_path, size=(640, 360))
