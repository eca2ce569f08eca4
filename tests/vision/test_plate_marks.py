"""Region marks beside the characters (an EU band, a province glyph, a state name) are never read as a
leading character: synthetic plates with such a mark through the real recognisers, and the EU band finder
on the real photos."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from dashcam.synth.plates import _glyphs, render_plate, spec_for
from dashcam.vision.config import EasyOcrConfig, RapidOcrConfig
from dashcam.vision.ocr.base import OcrBackend
from dashcam.vision.ocr.registry import build_ocr
from dashcam.vision.plate_marks import drop_leading_mark, eu_band_end
from dashcam.vision.plate_text import PlateRules
from dashcam.vision.plates import PlateReader
from tests.vision.conftest import gt_box

# Formats a user in each region would configure (public rules): German and Slovak plates, standard Chinese
# plates without their province character, California's 1ABC234.
EU = PlateRules.build(
    formats=[("SK", r"^[A-Z]{2}[0-9]{3}[A-Z]{2}$"), ("DE", r"^[A-Z]{1,3}[A-Z]{1,2}[0-9]{1,4}$")]
)
CN = PlateRules.build(formats=[("CN", r"^[A-HJ-NP-Z][A-HJ-NP-Z0-9]{5}$")])
US = PlateRules.build(formats=[("US", r"^[0-9][A-Z]{3}[0-9]{3}$")])


def _province_glyph(size: int) -> np.ndarray:
    """A white-on-black stroke glyph shaped like the province character 京 (no CJK font is installed)."""
    g = np.zeros((size, size), np.uint8)
    t = max(2, size // 12)

    def stroke(a: tuple[float, float], b: tuple[float, float]) -> None:
        cv2.line(g, (int(a[0] * size), int(a[1] * size)), (int(b[0] * size), int(b[1] * size)), 255, t)

    stroke((0.45, 0.05), (0.55, 0.15))
    stroke((0.1, 0.22), (0.9, 0.22))
    cv2.rectangle(g, (int(0.28 * size), int(0.33 * size)), (int(0.72 * size), int(0.55 * size)), 255, t)
    stroke((0.5, 0.55), (0.5, 0.92))
    stroke((0.5, 0.92), (0.4, 0.85))
    stroke((0.3, 0.68), (0.15, 0.85))
    stroke((0.7, 0.68), (0.85, 0.85))
    return g


def cn_plate(text: str, h: int) -> np.ndarray:
    """A Chinese-style plate: blue, white characters after a province glyph (440 x 140 mm)."""
    w = int(h * 440 / 140)
    img = np.full((h, w, 3), (160, 60, 10), np.uint8)
    cv2.rectangle(img, (2, 2), (w - 3, h - 3), (255, 255, 255), max(1, h // 30))
    gh = int(h * 0.7)
    y0, x0 = (h - gh) // 2, int(w * 0.04)
    img[y0 : y0 + gh, x0 : x0 + gh][_province_glyph(gh) > 100] = (255, 255, 255)
    xs = x0 + gh + int(w * 0.03)
    mask = cv2.resize(_glyphs(text[0] + " " + text[1:], gh, int(w * 0.8), 0.11), (w - xs - int(w * 0.03), gh))
    img[y0 : y0 + gh, xs : w - int(w * 0.03)][mask > 100] = (255, 255, 255)
    return img


def eu_plate(text: str, country: str, h: int) -> np.ndarray:
    """A European plate: the EU band with its ring of stars and the country code, then the characters."""
    img = render_plate(spec_for(text, "eu"), h)
    band = int(img.shape[1] * 0.075)
    img[:, :band] = (150, 50, 0)
    for k in range(12):
        a = 2 * np.pi * k / 12
        centre = (int(band / 2 + np.cos(a) * band * 0.3), int(h * 0.32 + np.sin(a) * band * 0.3))
        cv2.circle(img, centre, max(1, h // 40), (0, 200, 255), -1)
    mask = _glyphs(country, int(h * 0.22), int(band * 0.35 * len(country)), 0.12)
    y, x = int(h * 0.68), (band - mask.shape[1]) // 2
    img[y : y + mask.shape[0], x : x + mask.shape[1]][mask > 100] = (255, 255, 255)
    return img


def _in_frame(plate: np.ndarray) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """The plate on a grey frame, and its box as a plate detector would give it."""
    h, w = plate.shape[:2]
    frame = np.full((h * 3, w + 2 * h, 3), 90, np.uint8)
    frame[h : 2 * h, h : h + w] = plate
    return frame, (float(h), float(h), float(h + w), float(2 * h))


class _NoDetector:
    def load(self) -> None:
        pass


CASES = [
    ("BAS1234", "eu-D", EU),
    ("RK123AB", "eu-SK", EU),
    ("A12345", "cn", CN),
    ("7ABC123", "us", US),
]


def _plate(text: str, kind: str, h: int) -> np.ndarray:
    if kind.startswith("eu"):
        return eu_plate(text, kind.split("-")[1], h)
    if kind == "cn":
        return cn_plate(text, h)
    return render_plate(spec_for(text, "us"), h * 2)  # with the state name above the characters


@pytest.fixture(scope="module", params=["rapidocr", "easyocr"])
def ocr(request: pytest.FixtureRequest) -> OcrBackend:
    if request.param == "easyocr":
        from tests.vision.ocr.test_backends import _needs_easyocr

        _needs_easyocr()
    backend = build_ocr(RapidOcrConfig() if request.param == "rapidocr" else EasyOcrConfig(num_threads=2))
    backend.load()
    return backend


@pytest.mark.parametrize("height", [40, 60])
@pytest.mark.parametrize(("text", "kind", "rules"), CASES, ids=[c[1] for c in CASES])
def test_a_region_mark_never_becomes_a_leading_character(
    ocr: OcrBackend, text: str, kind: str, rules: PlateRules, height: int
) -> None:
    frame, box = _in_frame(_plate(text, kind, height))
    reader = PlateReader(_NoDetector(), ocr, rules)  # type: ignore[arg-type]
    (read,) = reader.read_boxes(frame, [(box, 0.9)])
    assert not (len(read.text) > len(text) and read.text.endswith(text)), read.text
    if ocr.backend == "rapidocr":
        assert read.text == text
        # each crop of the band on its own: the EU band is cut off before the recogniser sees it (it read
        # the band's star ring as a leading 0, P or A in some crops)
        crops = [reader.crops.variant(v, frame, box) for v in reader.options.variants]
        for r in ocr.read(crops):
            plain = r.text.replace(" ", "")
            assert not (len(plain) > len(text) and plain.endswith(text)), r.text


def test_eu_band_found_on_real_eu_plates_only(plates: list[dict[str, str]]) -> None:
    """On the ground-truth boxes cut to the character band (as the band crops are): a band on about a third
    of the eu plates (Slovak and Czech, most with the EU band), on none of the us ones."""
    found = {"us": 0, "eu": 0}
    for row in plates:
        img = cv2.imread(row["path"])
        x1, y1, x2, y2 = gt_box(row)
        w, h = x2 - x1, y2 - y1
        crop = img[y1 + int(0.15 * h) : y2 - int(0.15 * h), max(0, x1 - int(0.03 * w)) : x2 + int(0.03 * w)]
        found[row["set"]] += eu_band_end(crop) > 0
    print(f"\nEU band found: eu {found['eu']} of 108, us {found['us']} of 222")
    assert found["us"] == 0 and found["eu"] >= 25
    for h in (40, 60):
        end = eu_band_end(eu_plate("BAS1234", "D", h))
        assert 0.06 * 4.7 * h <= end <= 0.1 * 4.7 * h
        assert eu_band_end(render_plate(spec_for("BAS1234", "eu"), h)[:, int(0.075 * 4.7 * h) :]) == 0
        assert eu_band_end(cn_plate("A12345", h)) == 0  # a blue plate is not a band


def test_a_leading_mark_is_dropped_only_where_formats_say_so() -> None:
    probs = [{c: 0.9} for c in "ERK123AB"]
    assert drop_leading_mark("ERK123AB", probs, EU) == ("RK123AB", probs[1:])
    assert drop_leading_mark("IXA12345", None, CN) == ("A12345", None)  # a glyph read as two letters
    assert drop_leading_mark("BAS1234", None, EU)[0] == "BAS1234"  # fits as read
    assert drop_leading_mark("ERK123AB", None, PlateRules())[0] == "ERK123AB"  # no formats: nothing to go by
    assert drop_leading_mark("XYZXYZXYZ", None, EU)[0] == "XYZXYZXYZ"  # nothing fits either way
    # a dealer's name on the frame: without its first letters it would fit the US format, but holds no digit
    us_any = PlateRules.build(formats=[("US", r"^[A-NP-Z0-9]{2,8}$")])
    assert drop_leading_mark("COLLINS", None, us_any)[0] == "COLLINS"
    # an emblem read inside a Czech plate (4B3 8 9376): no end is dropped to make the length fit
    cz = PlateRules.build(formats=[("CZ", r"^[0-9][A-Z][0-9A-Z][0-9]{4}$")])
    assert drop_leading_mark("4B389376", None, cz)[0] == "4B389376"
