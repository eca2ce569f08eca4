"""Plate-constrained CTC decoding of a recogniser's per-step probabilities (synthetic matrices, no model)."""

from __future__ import annotations

import numpy as np
import pytest

from dashcam.vision.ocr.ctc import PlateCtcDecoder
from dashcam.vision.plate_text import normalise_map

# A recogniser's class list in miniature: index 0 is the CTC blank, then mixed-case Latin, a CJK character,
# separators and an accented capital.
CHARS = ["blank", "o", "O", "0", "8", "中", " ", "-", "1", "Č", "b", "B"]


def _step(**probs: float) -> np.ndarray:
    """One time step: the named classes get their probability, the blank the rest (a softmax row)."""
    names = {"blank": 0, "cjk": CHARS.index("中"), "space": CHARS.index(" "), "dash": CHARS.index("-")}
    row = np.zeros(len(CHARS), dtype=np.float32)
    for name, p in probs.items():
        row[names[name] if name in names else CHARS.index(name)] = p
    row[0] += 1.0 - row.sum()
    return row


def _decode(*steps: np.ndarray) -> tuple[str, tuple[dict[str, float], ...]]:
    return PlateCtcDecoder(CHARS).decode(np.stack(steps))


def test_upper_and_lower_case_add_up() -> None:
    # Argmax over the raw classes is the digit 0 (0.4), but o and O together (0.6) are the letter.
    text, probs = _decode(_step(o=0.3, O=0.3, **{"0": 0.4}))
    assert text == "O"
    assert probs[0]["O"] == pytest.approx(0.6) and probs[0]["0"] == pytest.approx(0.4)
    # More lower-case mass: the letter keeps its case, so that normalise can drop small print.
    assert _decode(_step(o=0.4, O=0.2, **{"0": 0.3}))[0] == "o"


def test_cjk_class_is_masked_and_the_plate_character_read() -> None:
    # A CJK class wins the raw argmax; among plate characters, blank and separators the 8 is best.
    text, probs = _decode(_step(cjk=0.6, **{"8": 0.3}))
    assert text == "8"
    assert probs[0]["8"] == pytest.approx(0.75)  # renormalised without the masked class: 0.3 / (0.3 + 0.1)
    # When the blank carries more than the plate characters, nothing is read there.
    assert _decode(_step(cjk=0.6, **{"8": 0.1}))[0] == ""


def test_repeats_blanks_and_separators() -> None:
    one = _step(**{"1": 0.9})
    assert _decode(one, one)[0] == "1"  # a repeat is one character
    assert _decode(one, _step(), one)[0] == "11"  # a blank between them makes two
    text, probs = _decode(one, _step(dash=0.8), _step(space=0.9), one, _step(space=0.7))
    assert text == "1 1"  # a run of separators is one space; none trails
    assert probs[1] == {} and len(probs) == len(text)
    # o then O in consecutive steps are one character of the merged class, its best step's probability.
    text, probs = _decode(_step(o=0.7), _step(O=0.9))
    assert text == "O" and probs[0]["O"] == pytest.approx(0.9)


def test_accented_letters_fold_and_mapping_through_normalise() -> None:
    text, probs = _decode(
        _step(b=0.9), _step(o=0.8), _step(space=0.9), _step(Č=0.9), _step(**{"8": 0.6, "B": 0.3})
    )
    assert text == "bo C8"
    assert probs[4]["B"] == pytest.approx(0.3)
    # The small-print word is dropped; the kept characters keep their probabilities' positions.
    plate, kept = normalise_map(text)
    assert (plate, kept) == ("C8", (3, 4))


def test_all_blank_reads_nothing() -> None:
    assert _decode(_step(), _step()) == ("", ())


def test_a_confident_non_plate_glyph_is_a_mark_not_a_character() -> None:
    # A province glyph the recogniser knows (0.92 on a CJK class): what little is left favours the 1, which
    # renormalised would be read as a leading character. It is a mark: nothing is read there.
    glyph = _step(cjk=0.92, **{"1": 0.06})
    eight = _step(**{"8": 0.9})
    assert _decode(glyph, eight, eight) == ("8", ({"8": pytest.approx(0.9)},))
    # between characters it separates them, as a space would
    assert _decode(eight, glyph, eight)[0] == "8 8"
    # a hesitation between a look-alike CJK class and a plate character stays the character (above)
    assert _decode(_step(cjk=0.6, **{"8": 0.35}))[0] == "8"
