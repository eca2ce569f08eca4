"""Plate text rules: normalisation, confusable characters, plate formats and the consensus of many reads."""

from __future__ import annotations

import itertools
import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dashcam.config import PlatesSection

log = logging.getLogger(__name__)

DEFAULT_CONFUSIONS: dict[str, str] = {"O": "0", "I": "1", "B": "8", "S": "5", "Z": "2", "Q": "0", "D": "0"}

# Words OCR picks up around the registration itself (state names, slogans, dealer frames).
_JUNK = """
ALABAMA ALASKA ARIZONA ARKANSAS CALIFORNIA COLORADO CONNECTICUT DELAWARE FLORIDA GEORGIA HAWAII IDAHO
ILLINOIS INDIANA IOWA KANSAS KENTUCKY LOUISIANA MAINE MARYLAND MASSACHUSETTS MICHIGAN MINNESOTA
MISSISSIPPI MISSOURI MONTANA NEBRASKA NEVADA HAMPSHIRE JERSEY MEXICO YORK CAROLINA DAKOTA OHIO OKLAHOMA
OREGON PENNSYLVANIA RHODE ISLAND TENNESSEE TEXAS UTAH VERMONT VIRGINIA WASHINGTON WISCONSIN WYOMING
NEW NORTH SOUTH WEST DC USA DMV DMVCAGOV STATE SUNSHINE EMPIRE GARDEN EXPLORE GRAND CANYON GREAT LAKES
LAND OF LINCOLN LONE STAR PEACH THE FIRST GOLDEN
"""
JUNK_WORDS: frozenset[str] = frozenset(_JUNK.split())

_SEPARATORS = re.compile(r"[\s\-=·•:;.,_/\\'\"`~*+]+")
_NON_PLATE = re.compile(r"[^A-Z0-9]")


@dataclass(frozen=True)
class PlateFormatRule:
    """One plate format: a country code and a compiled pattern of the normalised text."""

    country: str
    pattern: re.Pattern[str]


@dataclass(frozen=True)
class PlateRules:
    """Everything that turns raw OCR text into a plate: lengths, confusable characters, formats."""

    min_length: int = 4
    max_length: int = 10
    confusions: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_CONFUSIONS))
    formats: tuple[PlateFormatRule, ...] = ()
    junk_words: frozenset[str] = JUNK_WORDS

    @classmethod
    def build(
        cls,
        *,
        min_length: int = 4,
        max_length: int = 10,
        confusions: Mapping[str, str] | None = None,
        formats: Iterable[tuple[str, str]] = (),
    ) -> PlateRules:
        """Rules from plain values; ``formats`` holds (country, regex) pairs, tried in order."""
        return cls(
            min_length=min_length,
            max_length=max_length,
            confusions=dict(DEFAULT_CONFUSIONS if confusions is None else confusions),
            formats=tuple(PlateFormatRule(c, re.compile(p)) for c, p in formats),
        )

    @classmethod
    def from_section(cls, section: PlatesSection) -> PlateRules:
        """Rules from the global config's ``plates`` section."""
        return cls.build(
            min_length=section.min_length,
            max_length=section.max_length,
            confusions=section.confusions,
            formats=[(f.country, f.pattern) for f in section.formats],
        )

    def length_ok(self, text: str) -> bool:
        """Whether a normalised plate has an acceptable length."""
        return self.min_length <= len(text) <= self.max_length


def _strip_case_junk(token: str) -> str:
    """Drop the small lower-case text OCR reads at a plate's edge (country strip 'cz', 'sk') from a token."""
    m = re.fullmatch(r"([a-z]{2,})?(.*?)([a-z]{2,})?", token)
    if not m:
        return token
    core = m.group(2)
    return core if sum(ch.isalnum() for ch in core) >= 2 else token


def normalise(text: str, rules: PlateRules | None = None) -> str:
    """Upper-case A-Z0-9 plate text, without separators, state words and the edge junk OCR picks up."""
    rules = rules or PlateRules()
    # A bar is a thin I or 1 more often than a border: read it as I (confusions fold it for search).
    tokens = [t for t in _SEPARATORS.split(text.strip().replace("|", "I")) if t]
    # Plate characters are capitals: a word read all in small letters is the small print around them.
    if any(any(ch.isupper() for ch in t) for t in tokens):
        tokens = [t for t in tokens if not (t.isalpha() and t.islower() and len(t) >= 2)]
    tokens = [_strip_case_junk(t) for t in tokens]
    tokens = [_NON_PLATE.sub("", t.upper()) for t in tokens]
    tokens = [t for t in tokens if t and t not in rules.junk_words]
    joined = "".join(tokens)
    if len(joined) > rules.max_length and len(tokens) > 1:
        # Words that alone are too long to be (part of) a plate are slogans: keep the rest.
        kept = [t for t in tokens if not (t.isalpha() and len(t) > rules.max_length // 2 + 1)]
        joined = "".join(kept) or joined
    return joined


def plate_key(text: str, confusions: Mapping[str, str] | None = None) -> str:
    """A fuzzy-search key: the normalised plate with every confusable letter folded to its digit."""
    table = str.maketrans(dict(DEFAULT_CONFUSIONS if confusions is None else confusions))
    return _NON_PLATE.sub("", text.upper()).translate(table)


def _partners(confusions: Mapping[str, str]) -> dict[str, str]:
    """Each confusable character mapped to its partner (letter -> digit, digit -> the first such letter)."""
    out: dict[str, str] = {}
    for letter, digit in confusions.items():
        out[letter] = digit
        out.setdefault(digit, letter)
    return out


def correct_format(text: str, rules: PlateRules) -> tuple[str, str | None]:
    """The text changed at the fewest confusable positions so that it matches a configured format.

    Returns (text, country); the text is unchanged and country None when no format can be matched.
    """
    if not rules.formats:
        return text, None
    partners = _partners(rules.confusions)
    swappable = [i for i, ch in enumerate(text) if ch in partners]
    for n_changes in range(len(swappable) + 1):
        for positions in itertools.combinations(swappable, n_changes):
            chars = list(text)
            for i in positions:
                chars[i] = partners[chars[i]]
            candidate = "".join(chars)
            for fmt in rules.formats:
                if fmt.pattern.fullmatch(candidate):
                    return candidate, fmt.country
    return text, None


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance between two short strings."""
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


@dataclass(frozen=True)
class PlateConsensus:
    """The plate many reads agree on, its confidence (0..1) and the other strings read, best first."""

    text: str
    confidence: float
    alternatives: list[str]
    support: int = 0


def _vote_positions(reads: Sequence[tuple[str, float]]) -> tuple[str, float]:
    """Per-position confidence-weighted vote over same-length reads: the text and the mean winning share."""
    length = len(reads[0][0])
    chars: list[str] = []
    shares: list[float] = []
    total = sum(w for _, w in reads) or 1.0
    for i in range(length):
        votes: dict[str, float] = defaultdict(float)
        for text, w in reads:
            votes[text[i]] += w
        ch, w = max(votes.items(), key=lambda kv: (kv[1], kv[0]))
        chars.append(ch)
        shares.append(w / total)
    return "".join(chars), sum(shares) / length


def consensus(
    reads: Iterable[tuple[str, float]],
    *,
    confusions: Mapping[str, str] | None = None,
    max_distance: int | None = None,
) -> PlateConsensus:
    """Combine reads of one plate: cluster similar strings, weight by confidence, vote per position.

    Strings cluster when their confusion-folded keys are within ``max_distance`` edits (default: a third of
    the length, at least 1). The heaviest cluster wins; its most weighted length is kept and each position
    voted on. Every other string read is kept in ``alternatives`` for fuzzy search.
    """
    items = [(t, max(float(c), 1e-3)) for t, c in reads if t]
    if not items:
        return PlateConsensus("", 0.0, [])
    clusters: list[list[tuple[str, float]]] = []
    keys: list[str] = []
    for text, conf in sorted(items, key=lambda r: -r[1]):
        key = plate_key(text, confusions)
        limit = max_distance if max_distance is not None else max(1, len(key) // 3)
        for i, ckey in enumerate(keys):
            if edit_distance(key, ckey) <= limit:
                clusters[i].append((text, conf))
                break
        else:
            clusters.append([(text, conf)])
            keys.append(key)
    total = sum(c for _, c in items)
    best = max(clusters, key=lambda cl: sum(c for _, c in cl))
    weight = sum(c for _, c in best)
    by_length: dict[int, float] = defaultdict(float)
    for text, conf in best:
        by_length[len(text)] += conf
    length = max(by_length.items(), key=lambda kv: (kv[1], kv[0]))[0]
    same = [(t, c) for t, c in best if len(t) == length]
    text, agreement = _vote_positions(same)
    mean_conf = sum(c * c for _, c in best) / weight
    confidence = mean_conf * (weight / total) * agreement
    ranked: dict[str, float] = defaultdict(float)
    for t, c in items:
        ranked[t] += c
    alternatives = [t for t, _ in sorted(ranked.items(), key=lambda kv: -kv[1]) if t != text]
    return PlateConsensus(text, round(confidence, 4), alternatives, support=len(best))
