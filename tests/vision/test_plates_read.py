"""The plate read path on real photos (OpenALPR's benchmark) and the `dashcam plates` command."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from dashcam.cli import app
from dashcam.vision.plate_text import PlateRules, edit_distance
from dashcam.vision.plates import PlateReader
from tests.support import models_dir, testdata_file

runner = CliRunner()

# Every EVERY-th photo of each set: a fixed sample, not picked for how well it reads.
EVERY = 6
# The country formats bench/plates.py uses (public registration rules, not fitted to images).
FORMATS = {
    "us": [("US", r"^[A-NP-Z0-9]{2,8}$")],
    "eu": [("SK", r"^[A-Z]{2}[0-9]{3}[A-Z]{2}$"), ("CZ", r"^[0-9][A-Z][0-9A-Z][0-9]{4}$")],
}
# Under what this sample measured with the reader's crops cut to the character line (us n=37: recall 0.865,
# exact 0.784, within-1 0.919; eu n=18: 0.944 / 0.889 / 0.944, the truth as given): two us images (2.7 points
# each), one or two eu images (5.6 points each).
FLOORS = {
    "us": {"recall": 0.81, "exact": 0.72, "within1": 0.86},
    "eu": {"recall": 0.83, "exact": 0.77, "within1": 0.83},
}


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@pytest.mark.parametrize("name", ["us", "eu"])
def test_accuracy_on_real_photos(reader: PlateReader, plates: list[dict[str, str]], name: str) -> None:
    reader.rules = PlateRules.build(formats=FORMATS[name])
    sample = [r for r in plates if r["set"] == name][::EVERY]
    found = exact = within1 = 0
    for row in sample:
        frame = cv2.imread(row["path"])
        assert frame is not None, row["path"]
        x, y, w, h = (float(row[k]) for k in ("x", "y", "width", "height"))
        reads = reader.read_image(frame)
        text = reads[0].text if reads else ""
        found += any(_iou(r.box, (x, y, x + w, y + h)) >= 0.5 for r in reads)
        exact += text == row["plate"]
        within1 += bool(text) and edit_distance(text, row["plate"]) <= 1
    n = len(sample)
    rates = {"recall": found / n, "exact": exact / n, "within1": within1 / n}
    print(f"{name} n={n} " + " ".join(f"{k} {v:.3f}" for k, v in rates.items()))
    for key, floor in FLOORS[name].items():
        assert rates[key] >= floor, f"{name} {key} {rates[key]:.3f} < {floor}"


def test_read_image_in_vehicle_box_maps_back(reader: PlateReader, plates: list[dict[str, str]]) -> None:
    reader.rules = PlateRules.build(formats=FORMATS["us"])
    row = next(r for r in plates if r["set"] == "us")
    frame = cv2.imread(row["path"])
    x, y, w, h = (float(row[k]) for k in ("x", "y", "width", "height"))
    # A generous "vehicle" box around the plate: boxes found in it come back in frame coordinates.
    vehicle = (max(0.0, x - 3 * w), max(0.0, y - 4 * h), x + 4 * w, y + 2 * h)
    reads = reader.read_image(frame, vehicle_boxes=[vehicle])
    assert reads
    bx1, by1, bx2, by2 = reads[0].box
    assert bx1 <= x + w / 2 <= bx2 and by1 <= y + h / 2 <= by2  # frame coordinates, not the crop's
    assert _iou(reads[0].box, (x, y, x + w, y + h)) >= 0.3
    assert 0.0 < reads[0].confidence <= 1.0 and 0.0 < reads[0].det_score <= 1.0


def test_blank_frame_has_no_plate(reader: PlateReader) -> None:
    assert reader.read_image(np.full((480, 640, 3), 128, dtype=np.uint8)) == []


def test_cli_plates_json_and_unreadable_file(
    plates: list[dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DASHCAM_MODELS_DIR", str(models_dir()))
    monkeypatch.delenv("DASHCAM_CONFIG_DIR", raising=False)  # the embedded default config
    monkeypatch.setattr("dashcam.settings.DEFAULT_CONFIG_DIR", tmp_path / "no-config")
    good = next(r for r in plates if r["set"] == "eu")
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    result = runner.invoke(app, ["plates", good["path"], str(broken), "--json"])
    assert result.exit_code == 1
    assert "broken.jpg" in result.stderr and "not a readable image" in result.stderr
    doc = json.loads(result.stdout)
    assert [Path(d["image"]).name for d in doc] == [good["image"]]
    best = doc[0]["plates"][0]
    assert set(best) >= {"text", "confidence", "box", "alternatives"}
    assert len(best["box"]) == 4 and 0 < best["confidence"] <= 1
    x, y, w, h = (float(good[k]) for k in ("x", "y", "width", "height"))
    assert _iou(tuple(best["box"]), (x, y, x + w, y + h)) >= 0.5


def test_cli_plates_text_output(
    plates: list[dict[str, str]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DASHCAM_MODELS_DIR", str(models_dir()))
    monkeypatch.delenv("DASHCAM_CONFIG_DIR", raising=False)
    monkeypatch.setattr("dashcam.settings.DEFAULT_CONFIG_DIR", tmp_path / "no-config")
    good = next(r for r in plates if r["set"] == "eu")
    result = runner.invoke(app, ["plates", good["path"]])
    assert result.exit_code == 0, result.output
    assert good["image"] in result.stdout and "conf" in result.stdout and "box" in result.stdout


def test_cli_plates_says_which_plate_the_photos_edge_cuts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """OpenALPR's car22: the plate in the middle first, the part of one at the left edge after it, said so."""
    monkeypatch.setenv("DASHCAM_MODELS_DIR", str(models_dir()))
    monkeypatch.delenv("DASHCAM_CONFIG_DIR", raising=False)
    monkeypatch.setattr("dashcam.settings.DEFAULT_CONFIG_DIR", tmp_path / "no-config")
    photo = str(testdata_file("plates/us/car22.jpg"))
    result = runner.invoke(app, ["plates", photo, "--json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)[0]["plates"]
    assert [p["at_edge"] for p in found] == [False, True]
    assert found[0]["text"].replace("O", "0") == "CH0P8Y" and found[1]["box"][0] <= 2
    text = runner.invoke(app, ["plates", photo]).stdout.splitlines()
    assert len(text) == 2 and "edge" not in text[0] and "at the photo's edge" in text[1]


def test_skip_inside_leaves_a_plate_unread(reader: PlateReader, plates: list[dict[str, str]]) -> None:
    """Video's whole-frame pass leaves plates of vehicles already being read alone, zoom included."""
    reader.rules = PlateRules.build(formats=FORMATS["us"])
    row = next(r for r in plates if r["set"] == "us")
    frame = cv2.imread(row["path"])
    x, y, w, h = (float(row[k]) for k in ("x", "y", "width", "height"))
    seen = reader.read_image(frame)
    assert any(_iou(r.box, (x, y, x + w, y + h)) >= 0.3 for r in seen)
    vehicle = (max(0.0, x - 3 * w), max(0.0, y - 4 * h), x + 4 * w, y + 2 * h)
    left = reader.read_image(frame, skip_inside=[vehicle])
    assert not any(_iou(r.box, (x, y, x + w, y + h)) >= 0.3 for r in left)
    elsewhere = (0.0, 0.0, 2.0, 2.0)  # a box holding no plate changes nothing
    assert [r.text for r in reader.read_image(frame, skip_inside=[elsewhere])] == [r.text for r in seen]


# us photos whose plate (52-73 px wide in 1280x720) the first pass does not read: found nowhere, or only
# boxes on a grille that read no plate. A detector call on a window a few times a plate's width finds them.
SMALL_UNREAD = ["a03ced3f-5a97-4e75-8106-fabfd2b8b76e.jpg", "wts-lg-000058.jpg", "wts-lg-000147.jpg"]


def test_frame_searched_again_in_small_tiles_when_nothing_is_read(
    reader: PlateReader, plates: list[dict[str, str]]
) -> None:
    import dataclasses

    reader.rules = PlateRules.build(formats=FORMATS["us"])
    rows = {r["image"]: r for r in plates if r["set"] == "us"}
    default = reader.options
    try:
        for name in SMALL_UNREAD:
            row = rows[name]
            frame = cv2.imread(row["path"])
            reader.options = dataclasses.replace(default, unread_tiles=None)
            assert reader.read_image(frame) == [], name
            reader.options = default
            reads = reader.read_image(frame)
            x, y, w, h = (float(row[k]) for k in ("x", "y", "width", "height"))
            assert reads and _iou(reads[0].box, (x, y, x + w, y + h)) >= 0.4, name
            assert edit_distance(reads[0].text, row["plate"]) <= 2, (name, reads[0].text)
            # a caller that turns tiles off gets no second search either
            assert reader.read_image(frame, tiles=False) == [], name
    finally:
        reader.options = default
