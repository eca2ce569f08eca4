"""Region marks beside a plate's characters: an EU band, a province glyph, a state name, never a character.

Two places keep them out of the text. In the crop: a European plate's blue band (the EU stars and the
country code) is cut off before the recogniser sees it (:func:`eu_band_end`). In the text: a character that
a configured country format does not allow at the plate's edge, where the rest fits a format, is dropped
(:func:`drop_leading_mark`). A confident non-plate glyph (a province character) is a separator for the CTC
decoder already (dashcam.vision.ocr.ctc.MARK_MASS); US state names sit outside the character band and are junk
words of normalise().
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import numpy as np

from dashcam.vision.plate_text import PlateRules, correct_format

# The EU band: saturated blue (OpenCV hue 100-130 of 180), 4-15 % of the plate's width, at its left edge,
# with the plate's white background right after it. A band column is mostly blue, or partly blue and the
# rest the band's yellow stars and white country code. Measured on OpenALPR's photos (ground-truth boxes cut
# to the character band): found on 32 of 108 eu plates and on none of 222 us plates, whose frames, car
# paint and blue lettering fail one of the tests.
_BLUE_HUE, _YELLOW_HUE = (100, 130), (15, 40)
_BLUE_MIN_SAT, _BLUE_MIN_VAL = 120, 50
_BAND_COLUMN = 0.6  # share of blue pixels that puts a column in the band
_BAND_MIXED = (0.3, 0.8)  # or at least this share blue, and this share blue, yellow or white
_BAND_WIDTH = (0.04, 0.15)
_BAND_START = 0.10  # the band starts within this share of the crop's width (the box's margin)
_WHITE_MAX_SAT, _WHITE_MIN_VAL, _WHITE_AFTER = 70, 110, 0.4


def eu_band_end(crop: np.ndarray) -> int:
    """The first column after a blue EU band at the crop's left edge; 0 when there is none."""
    if crop.ndim != 3 or crop.shape[1] < 20:
        return 0
    hsv = cv2.cvtColor(crop, cv2.COLOR_BGR2HSV)
    hue, sat, val = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    blue = (hue >= _BLUE_HUE[0]) & (hue <= _BLUE_HUE[1]) & (sat >= _BLUE_MIN_SAT) & (val >= _BLUE_MIN_VAL)
    white = (sat < _WHITE_MAX_SAT) & (val >= _WHITE_MIN_VAL)
    yellow = (hue >= _YELLOW_HUE[0]) & (hue <= _YELLOW_HUE[1]) & (sat >= 100) & (val >= 100)
    blue_share = blue.mean(axis=0)
    in_band = (blue_share >= _BAND_COLUMN) | (
        (blue_share >= _BAND_MIXED[0]) & ((blue | white | yellow).mean(axis=0) >= _BAND_MIXED[1])
    )
    w = crop.shape[1]
    start = next((c for c in range(int(w * _BAND_START) + 1) if blue_share[c] >= _BAND_COLUMN), None)
    if start is None:
        return 0
    end = start
    while end < w and in_band[end]:
        end += 1
    if not _BAND_WIDTH[0] * w <= end - start <= _BAND_WIDTH[1] * w:
        return 0
    after = white.mean(axis=0)[end : end + max(2, int(0.04 * w))]
    return end if after.size and float(after.mean()) >= _WHITE_AFTER else 0


def without_eu_band(crop: np.ndarray) -> np.ndarray:
    """The crop with a blue EU band at its left edge cut off (unchanged when there is none)."""
    end = eu_band_end(crop)
    return crop[:, end:] if end else crop


def drop_leading_mark(
    text: str, probs: Sequence[Mapping[str, float]] | None, rules: PlateRules
) -> tuple[str, Sequence[Mapping[str, float]] | None]:
    """A plate with a mark before it read as its first one or two characters, without them, where the
    country formats say so.

    Only with formats configured, only when the text as read fits none of them (even with its confusable
    characters swapped) while the text without its first character (else its first two: a province glyph
    read as two narrow letters) fits one and still holds a digit (a dealer's name on the frame, COLLINS, is
    no plate without its C). Without formats a character is never dropped: nothing says which one is the mark.
    """
    if not rules.formats or correct_format(text, rules, probs)[1]:
        return text, probs
    aligned = probs is not None and len(probs) == len(text)
    for k in (1, 2):
        rest = text[k:]
        if len(rest) < rules.min_length or not any(c.isdigit() for c in rest):
            break
        rest_probs = probs[k:] if aligned and probs is not None else None
        if correct_format(rest, rules, rest_probs)[1] is not None:
            return rest, rest_probs
    return text, probs
