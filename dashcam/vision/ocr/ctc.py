"""Plate-constrained CTC decoding: a recogniser's per-step class probabilities to plate text.

Shared by every CTC recogniser the plate reader runs (RapidOCR's PP-OCR, EasyOCR's english_g2): the text
holds plate characters only (A-Z0-9, a space between groups) and carries each character's probabilities, so
that the vote and the country formats can weigh what the recogniser hesitated on.
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Sequence

import numpy as np

from dashcam.vision.plate_text import SEPARATOR_CHARS

# The characters of a normalised plate, in the order of the decoder's plate classes.
PLATE_ALPHABET = string.ascii_uppercase + string.digits
_BLANK, _SEPARATOR, _UPPER, _LOWER = 0, 1, 2, 2 + len(PLATE_ALPHABET)
_N_GROUPS = _LOWER + 26
# Alternatives below this probability are left out of OcrResult.char_probs.
MIN_CHAR_PROB = 1e-4
# Share of a step's probability on masked classes from which the step is a mark, not a character. PP-OCR puts
# 0.3-0.6 on a CJK look-alike of a Latin plate character it hesitates on (the plate character is then kept);
# a glyph it recognises, such as a province character, takes 0.9 and more.
MARK_MASS = 0.8


def _plate_group(ch: str) -> int | None:
    """The decoder group of one recogniser class: separator, plate character (upper/lower), None = masked."""
    if ch == "|":  # a thin I, as normalise reads it
        return _UPPER + PLATE_ALPHABET.index("I")
    if ch.isspace() or ch in SEPARATOR_CHARS:
        return _SEPARATOR
    # Accented and full-width forms count as their base letter or digit (Č -> C, Ａ -> A, ² -> 2).
    base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
    if len(base) != 1 or not base.isascii() or not base.isalnum():
        return None
    if base.islower():
        return _LOWER + string.ascii_lowercase.index(base)
    return _UPPER + PLATE_ALPHABET.index(base)


class PlateCtcDecoder:
    """Greedy CTC decoding of a recogniser's per-step class probabilities, restricted to plate characters.

    ``characters`` is the recogniser's class list, index 0 the CTC blank. Classes are grouped: blank; separators
    (space, punctuation); the 36 plate characters, where the upper- and lower-case forms of a letter (and
    accented forms) add up; every other class (CJK, symbols) is masked and the rest renormalised. Each step
    takes its most probable group; repeats not split by a blank or separator are one character.
    ``keep_case`` False: every letter comes out in capitals (a recogniser whose case says nothing about
    small print, such as EasyOCR's on plate crops, where it reads capitals as lower case half the time).
    """

    def __init__(self, characters: Sequence[str], *, keep_case: bool = True) -> None:
        self.keep_case = keep_case
        groups = [_BLANK] + [_plate_group(c) for c in characters[1:]]
        kept = sorted((g, i) for i, g in enumerate(groups) if g is not None)
        # Class columns ordered by group, where each group starts, and which groups have classes at all.
        self._cols = np.array([i for _, i in kept], dtype=np.int64)
        self._groups = np.array(sorted({g for g, _ in kept}), dtype=np.int64)
        self._starts = np.searchsorted([g for g, _ in kept], self._groups)

    def decode(self, probs: np.ndarray) -> tuple[str, tuple[dict[str, float], ...]]:
        """Text and per-character probabilities of one [T, C] softmax output.

        The text keeps case (a letter is lower case when its lower-case classes carry more mass) and a space
        for each run of separators, so that normalise() can drop small print; ``char_probs`` has one mapping
        per character of the text (plate character -> highest probability over the character's steps,
        ``{}`` for a space).
        """
        probs = np.asarray(probs, dtype=np.float32)
        # A step the recogniser gives almost wholly to classes that are no plate character (a province
        # glyph, a symbol) is a mark beside the plate: it separates, it never becomes the plate character
        # that the renormalised remainder happens to favour.
        marks = probs.sum(axis=1) - probs[:, self._cols].sum(axis=1) >= MARK_MASS
        grouped = np.zeros((probs.shape[0], _N_GROUPS), dtype=np.float32)
        # A sum per group without BLAS: its worker threads would fight onnxruntime's for the cores.
        grouped[:, self._groups] = np.add.reduceat(probs[:, self._cols], self._starts, axis=1)
        upper, lower = grouped[:, _UPPER:_LOWER], grouped[:, _LOWER:]
        plate = upper.copy()
        plate[:, :26] += lower
        scores = np.concatenate([grouped[:, :_UPPER], plate], axis=1)
        scores /= np.maximum(scores.sum(axis=1, keepdims=True), 1e-12)
        best = scores.argmax(axis=1)
        best[marks] = _SEPARATOR

        text: list[str] = []
        chars: list[dict[str, float]] = []

        def emit(k: int, steps: list[int]) -> None:
            dist = scores[steps, _UPPER:].max(axis=0)
            ch = PLATE_ALPHABET[k]
            if self.keep_case and k < 26 and lower[steps, k].sum() > upper[steps, k].sum():
                ch = ch.lower()
            text.append(ch)
            chars.append({PLATE_ALPHABET[j]: float(p) for j, p in enumerate(dist) if p >= MIN_CHAR_PROB})

        run: list[int] = []  # steps of the character being read
        prev = _BLANK
        for t, g in enumerate(best.tolist()):
            if g >= _UPPER and g == prev and run:
                run.append(t)
                continue
            if run:
                emit(prev - _UPPER, run)
                run = []
            if g == _SEPARATOR and text and text[-1] != " ":
                text.append(" ")
                chars.append({})
            elif g >= _UPPER:
                run = [t]
            prev = g
        if run:
            emit(prev - _UPPER, run)
        while text and text[-1] == " ":
            text.pop()
            chars.pop()
        return "".join(text), tuple(chars)
