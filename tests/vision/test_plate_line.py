"""The character line of a plate crop: found from the characters themselves, levelled, cut to their height.
Synthetic plates with a state name and a slogan around the characters, slanted both ways; a real photo of a
plate in a dealer's frame through the real detector and recogniser."""

from __future__ import annotations

import csv

import cv2
import numpy as np
import pytest

from dashcam.synth.plates import _glyphs, render_plate, spec_for
from dashcam.vision.plate_line import MIN_MARGIN_PX, cut_to_line, find_char_line
from dashcam.vision.plates import PlateReader, PlateReaderOptions
from tests.support import testdata_file

H = 120  # plate height in pixels; render_plate's US characters span rows 0.30-0.80 of it


def us_plate_with_slogan(text: str = "7ABC123") -> np.ndarray:
    """A US plate (state name above the characters) with a dealer's slogan below them."""
    img = render_plate(spec_for(text, "us"), H)
    w = img.shape[1]
    mask = _glyphs("DRIVE WITH CARE", int(H * 0.09), int(w * 0.6), 0.08)
    y, x = int(H * 0.84), int(w * 0.2)
    img[y : y + mask.shape[0], x : x + mask.shape[1]][mask > 96] = (30, 30, 30)
    return img


def in_margin(plate: np.ndarray, pad: int = 12) -> np.ndarray:
    """The plate with a border of car paint, as a loose detector box holds it."""
    return cv2.copyMakeBorder(plate, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(70, 80, 90))


def slanted(img: np.ndarray, degrees: float) -> np.ndarray:
    """The image turned by ``degrees`` (counter-clockwise as shown, OpenCV's sense) on car paint."""
    h, w = img.shape[:2]
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(img, turn, (w, h), borderValue=(70, 80, 90))


def test_the_line_is_the_characters_not_the_state_name_or_the_slogan() -> None:
    crop = in_margin(us_plate_with_slogan())
    line = find_char_line(crop)
    assert line is not None
    # the characters: rows 0.30-0.80 of the plate, 12 px down in the crop
    assert line.centre_y == pytest.approx(12 + 0.55 * H, abs=0.04 * H)
    assert line.height == pytest.approx(0.5 * H, rel=0.12)
    assert line.count >= 6 and abs(line.angle_deg) < 1.0
    cut = cut_to_line(crop, line, 0.18)
    assert cut is not None
    # neither the state name (rows 0.07-0.20) nor the slogan (0.84-0.93) is left in the cut
    assert cut.shape[0] < 0.7 * H


@pytest.mark.parametrize("degrees", [7.0, -7.0])
def test_a_slanted_plate_is_levelled(degrees: float) -> None:
    crop = slanted(in_margin(us_plate_with_slogan(), pad=40), degrees)
    line = find_char_line(crop)
    assert line is not None
    # turned counter-clockwise the line rises to the right: image rows count down, so the slope is negative
    assert line.angle_deg == pytest.approx(-degrees, abs=1.5)
    level = cut_to_line(crop, line, 0.18)
    assert level is not None
    again = find_char_line(level)
    assert again is not None and abs(again.angle_deg) < 1.5
    assert again.count >= 6


def test_no_line_where_no_three_characters_line_up() -> None:
    blank = np.full((60, 200, 3), 200, np.uint8)
    assert find_char_line(blank) is None
    noise = np.random.default_rng(7).integers(0, 256, (60, 200, 3), dtype=np.uint8)
    assert find_char_line(noise) is None
    two = np.full((60, 200, 3), 230, np.uint8)
    two[15:45, 40:100][_glyphs("AB", 30, 60, 0.12) > 96] = 20  # two characters are no plate line
    assert find_char_line(two) is None
    assert find_char_line(np.zeros((5, 300, 3), np.uint8)) is None


@pytest.mark.parametrize(
    ("image", "plate"),
    [
        # New York: "NEW YORK" above, "THE EMPIRE STATE" below; a fixed band of the box read ENZ693
        ("us8.jpg", "EAZ6913"),
        # Arizona: a cactus before the characters and "GRAND CANYON STATE" below; the band read 4ASC7399
        ("car9-1.jpg", "ASC7399"),
    ],
)
def test_a_real_plate_is_read_on_its_line(reader: PlateReader, image: str, plate: str) -> None:
    """OpenALPR's us photos through the real detector and recogniser: the detector's box holds the whole
    plate with its printed lines, the line crop only the characters."""
    gt = testdata_file("plates/groundtruth.csv")
    with gt.open(newline="") as fh:
        row = next(r for r in csv.DictReader(fh) if r["image"] == image)
    assert row["plate"] == plate
    photo = cv2.imread(str(gt.parent / "us" / image))
    boxes = reader.detect_plates(photo)
    assert boxes, "the detector found no plate"
    box, _ = boxes[0]
    line = reader.crops.line_crop(photo, box)
    assert line is not None
    assert line.shape[0] < 0.6 * (box[3] - box[1])  # the printed lines above and below are cut off
    (read,) = reader.ocr.read([reader.crops.variant("line", photo, box)])
    assert read.text.replace(" ", "") == plate
    assert PlateReaderOptions().variants[0] == "line"
    best = reader.read_image(photo)
    assert best and best[0].text == plate


def test_a_small_plates_cut_keeps_room_for_blur() -> None:
    """A 12 px character line keeps at least MIN_MARGIN_PX above and below: blur spreads it past its strokes."""
    crop = in_margin(render_plate(spec_for("7ABC123", "us"), 24), pad=4)
    line = find_char_line(crop)
    assert line is not None and line.height == pytest.approx(12, abs=2)
    cut = cut_to_line(crop, line, 0.18)
    assert cut is not None
    assert cut.shape[0] >= line.height + 2 * MIN_MARGIN_PX - 1
