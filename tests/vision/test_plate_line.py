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
from dashcam.vision.plates import LINE_ROOM, PlateCrops, PlateReader, PlateReaderOptions
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


def plate_with_mark(colour: tuple[int, int, int]) -> np.ndarray:
    """SH0 R7X on a light plate, a block of ``colour`` 60 % of the characters' height in the gap between the
    groups (a registration sticker), in a margin of car paint."""
    img = np.full((100, 260, 3), (235, 235, 230), np.uint8)
    for x0, text in ((20, "SH0"), (130, "R7X")):
        mask = _glyphs(text, 50, 90, 0.12)
        img[25:75, x0 : x0 + 90][mask > 96] = (90, 40, 20)
    cv2.rectangle(img, (113, 35), (125, 65), colour, -1)
    return in_margin(img, pad=10)


def test_a_sticker_between_the_groups_is_a_mark_and_is_painted_over() -> None:
    crop = plate_with_mark((40, 120, 230))  # an orange sticker
    line = find_char_line(crop)
    assert line is not None and line.count == 6  # the sticker is no character of the line
    assert len(line.marks) == 1
    mark = line.marks[0]
    # between the 0 (ends at x 110 + 10 of margin) and the R (starts at 130 + 10)
    assert 115 <= mark.x0 < 123 + 10 <= mark.x1 <= 142
    assert np.allclose(mark.colour, (235, 235, 230), atol=12)  # the plate's colour around it
    painted, plain = cut_to_line(crop, line, 0.18), cut_to_line(crop, line, 0.18, paint_marks=False)
    assert painted is not None and plain is not None

    def orange(img: np.ndarray) -> int:
        b, g, r = (img[..., k].astype(int) for k in range(3))
        return int(((r > 180) & (b < 100)).sum())

    assert orange(plain) > 200 and orange(painted) == 0


def test_what_stands_in_a_gap_in_the_characters_colour_is_left() -> None:
    """A block as dark as the characters may be a character the components missed: no mark."""
    line = find_char_line(plate_with_mark((90, 40, 20)))
    assert line is not None and line.count == 6 and line.marks == ()


@pytest.mark.parametrize(
    ("image", "plate"),
    [
        # a sticker between SH0 and R7X, read as L in every crop before
        ("us/wts-lg-000100.jpg", "SH0R7X"),
        # Slovakia's coat of arms between TS and 260AK, read as 5 in the line crops before
        ("eu/test_005.jpg", "TS260AK"),
        # a Z that is no component, in a gap and taken for a mark: the painted crop loses it, the vote keeps it
        ("us/wts-lg-000156.jpg", "5TZA419"),
    ],
)
def test_a_mark_is_painted_in_one_line_crop_and_the_vote_decides(
    reader: PlateReader, image: str, plate: str
) -> None:
    gt = testdata_file("plates/groundtruth.csv")
    photo = cv2.imread(str(gt.parent / image))
    assert photo is not None
    box, _ = reader.detect_plates(photo)[0]
    painted, plain = reader.crops.line_crops(photo, box)
    assert painted is not None and plain is not None
    assert painted is not plain, "no mark was found between the characters"
    best = reader.read_image(photo)
    assert best and best[0].text.replace("O", "0") == plate.replace("O", "0")


def test_a_plate_cut_by_the_photos_edge_ranks_after_a_whole_one(reader: PlateReader) -> None:
    """OpenALPR's car22: a car at the photo's left edge shows part of its plate, read 6F1A with a better
    score than the plate in the middle (CH0P8Y, the ground truth)."""
    photo = cv2.imread(str(testdata_file("plates/us/car22.jpg")))
    reads = reader.read_image(photo)
    by_text = {r.text.replace("O", "0"): r for r in reads}
    assert "CH0P8Y" in by_text and not by_text["CH0P8Y"].at_edge
    cut = [r for r in reads if r.at_edge]
    assert cut and cut[0].box[0] <= 2 and cut[0].score > by_text["CH0P8Y"].score
    assert reads[0].text.replace("O", "0") == "CH0P8Y"


def test_a_box_that_cuts_the_line_short_is_widened() -> None:
    """A plate box whose left side runs through the plate's third character: the line runs into the crop's
    side, so the box is widened there and the line crop holds all seven characters."""
    plate = render_plate(spec_for("7ABC123", "us"), H)
    frame = np.full((400, 600, 3), (70, 80, 90), np.uint8)
    frame[140 : 140 + H, 150 : 150 + plate.shape[1]] = plate
    box = (150 + 0.39 * plate.shape[1], 140.0, 150.0 + plate.shape[1], 140.0 + H)
    crops = PlateCrops(48)
    inside = find_char_line(crops._cut(frame, box, *LINE_ROOM))
    assert inside is not None and inside.count == 5 and inside.left <= 1
    painted, plain = crops.line_crops(frame, box)
    assert painted is not None and painted is plain  # no marks
    line = find_char_line(painted)
    assert line is not None and line.count == 7
    # a box whose side falls between two characters gives no sign of what lies beyond it: left as it is
    box = (150 + 0.32 * plate.shape[1], 140.0, 150.0 + plate.shape[1], 140.0 + H)
    painted, _ = crops.line_crops(frame, box)
    assert painted is not None and painted.shape[1] < 0.75 * plate.shape[1]


def test_a_real_plate_boxed_short_is_read_whole(reader: PlateReader) -> None:
    """OpenALPR's wts-lg-000154: the detector's box starts at the plate's second 6 (its band reads 66026)."""
    photo = cv2.imread(str(testdata_file("plates/us/wts-lg-000154.jpg")))
    box, _ = reader.detect_plates(photo)[0]
    (band,) = reader.ocr.read([reader.crops.variant("band", photo, box)])
    assert band.text.replace(" ", "") == "66026"
    best = reader.read_image(photo)
    assert best and best[0].text == "1366026"
