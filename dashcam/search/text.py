"""Plate text arithmetic: normalising, folding OCR confusions, edit distances, deletion neighbourhoods."""

from __future__ import annotations

import re
from collections.abc import Mapping
from itertools import combinations

from dashcam.config import PlatesSection
from dashcam.vision.plate_text import edit_distance

DEFAULT_CONFUSIONS: dict[str, str] = PlatesSection.model_validate({}).confusions
MAX_EDITS = 2
"""Most edits a fuzzy plate search allows: the deletion index holds keys with up to this many characters gone."""

CONFUSABLE_COST = 0.5
"""Cost of substituting one confusable character for another (O for 0): less than a real edit."""

_NOT_ALNUM = re.compile(r"[^A-Z0-9]")


def normalize_plate(text: str) -> str:
    """Uppercase A-Z0-9 only: spaces, dashes and anything else a plate is printed with are dropped."""
    return _NOT_ALNUM.sub("", text.upper())


def fold_confusions(text: str, confusions: Mapping[str, str] | None = None) -> str:
    """The search key of a plate: normalised, each confusable letter replaced by its digit (O -> 0)."""
    table = DEFAULT_CONFUSIONS if confusions is None else confusions
    return "".join(table.get(c, c) for c in normalize_plate(text))


# Edit distance (insert, delete, substitute; each costs 1): the one the plate reader uses.
levenshtein = edit_distance


def weighted_distance(a: str, b: str, confusions: Mapping[str, str] | None = None) -> float:
    """Edit distance where swapping confusable characters (same folded form) costs CONFUSABLE_COST."""
    table = DEFAULT_CONFUSIONS if confusions is None else confusions
    prev = [float(j) for j in range(len(b) + 1)]
    for i, ca in enumerate(a, 1):
        cur = [float(i)]
        fa = table.get(ca, ca)
        for j, cb in enumerate(b, 1):
            if ca == cb:
                sub = 0.0
            elif fa == table.get(cb, cb):
                sub = CONFUSABLE_COST
            else:
                sub = 1.0
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + sub))
        prev = cur
    return prev[-1]


def deletion_variants(key: str, depth: int = MAX_EDITS) -> set[str]:
    """The key with every choice of up to ``depth`` characters deleted (itself included)."""
    out = {key}
    for k in range(1, min(depth, len(key)) + 1):
        for gone in combinations(range(len(key)), k):
            out.add("".join(c for i, c in enumerate(key) if i not in gone))
    out.discard("")
    return out
