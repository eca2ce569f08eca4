"""Plate text rules: normalisation, confusable characters, plate formats and the consensus of many reads."""

from __future__ import annotations

import itertools
import logging
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rapidfuzz.distance import Levenshtein

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

# Characters OCR reads between the parts of a plate (and any white space); a token is a run of anything else.
SEPARATOR_CHARS = frozenset("-=·•:;.,_/\\'\"`~*+")
_TOKEN = re.compile(r"[^\s" + "".join(re.escape(c) for c in sorted(SEPARATOR_CHARS)) + "]+")
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
    # With per-character probabilities, a format correction may only put a character where the OCR gave it at
    # least this probability: a crisp B stays B on a plate that fits no format, instead of turning into an 8.
    min_swap_prob: float = 1e-3

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


_CASE_JUNK = re.compile(r"([a-z]{2,})?(.*?)([a-z]{2,})?")


def _strip_case_junk(token: str) -> tuple[str, int]:
    """Drop the small lower-case text OCR reads at a plate's edge (country strip 'cz', 'sk') from a token.

    Returns the part kept and where it starts in the token.
    """
    m = _CASE_JUNK.fullmatch(token)
    if not m:
        return token, 0
    core = m.group(2)
    return (core, m.start(2)) if sum(ch.isalnum() for ch in core) >= 2 else (token, 0)


def normalise_map(text: str, rules: PlateRules | None = None) -> tuple[str, tuple[int, ...]]:
    """:func:`normalise`, and for each character kept the index in ``text`` it comes from."""
    rules = rules or PlateRules()
    lead = len(text) - len(text.lstrip())
    # A bar is a thin I or 1 more often than a border: read it as I (confusions fold it for search).
    stripped = text.strip().replace("|", "I")
    tokens = [(m.start() + lead, m.group()) for m in _TOKEN.finditer(stripped)]
    # Plate characters are capitals: a word read all in small letters is the small print around them.
    if any(any(ch.isupper() for ch in t) for _, t in tokens):
        tokens = [(o, t) for o, t in tokens if not (t.isalpha() and t.islower() and len(t) >= 2)]
    words: list[tuple[str, list[int]]] = []
    for offset, token in tokens:
        core, start = _strip_case_junk(token)
        offset += start
        kept = [(u, offset + j) for j, ch in enumerate(core) for u in ch.upper() if not _NON_PLATE.match(u)]
        word = "".join(u for u, _ in kept)
        if word and word not in rules.junk_words:
            words.append((word, [i for _, i in kept]))
    if sum(len(w) for w, _ in words) > rules.max_length and len(words) > 1:
        # Words that alone are too long to be (part of) a plate are slogans: keep the rest.
        short = [(w, i) for w, i in words if not (w.isalpha() and len(w) > rules.max_length // 2 + 1)]
        words = short or words
    return "".join(w for w, _ in words), tuple(i for _, idx in words for i in idx)


def normalise(text: str, rules: PlateRules | None = None) -> str:
    """Upper-case A-Z0-9 plate text, without separators, state words and the edge junk OCR picks up."""
    return normalise_map(text, rules)[0]


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


def correct_format(
    text: str, rules: PlateRules, char_scores: Sequence[Mapping[str, float]] | None = None
) -> tuple[str, str | None]:
    """The text changed at the fewest confusable positions so that it matches a configured format.

    ``char_scores`` (one mapping per character: plate character -> probability, e.g. the vote's
    :attr:`PlateConsensus.char_scores`) makes it stricter: a character may only be swapped for its partner
    when the partner has at least ``rules.min_swap_prob``, and among the matches with the fewest changes the
    most probable one wins. Returns (text, country); the text is unchanged and country None when no format
    can be matched.
    """
    if not rules.formats:
        return text, None
    partners = _partners(rules.confusions)
    scores = char_scores if char_scores is not None and len(char_scores) == len(text) else None

    def plausible(i: int) -> bool:
        return scores is None or scores[i].get(partners[text[i]], 0.0) >= rules.min_swap_prob

    def gain(positions: tuple[int, ...]) -> float:
        if scores is None:
            return 0.0
        return sum(
            math.log(max(scores[i].get(partners[text[i]], 0.0), 1e-12))
            - math.log(max(scores[i].get(text[i], 0.0), 1e-12))
            for i in positions
        )

    swappable = [i for i, ch in enumerate(text) if ch in partners and plausible(i)]
    for n_changes in range(len(swappable) + 1):
        best: tuple[float, str, str] | None = None
        for positions in itertools.combinations(swappable, n_changes):
            chars = list(text)
            for i in positions:
                chars[i] = partners[chars[i]]
            candidate = "".join(chars)
            country = next((f.country for f in rules.formats if f.pattern.fullmatch(candidate)), None)
            if country is None:
                continue
            if scores is None:
                return candidate, country
            g = gain(positions)
            if best is None or g > best[0]:
                best = (g, candidate, country)
        if best is not None:
            return best[1], best[2]
    return text, None


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (rapidfuzz's: the textbook result, about 60x faster than a Python loop)."""
    return Levenshtein.distance(a, b)


@dataclass(frozen=True)
class PlateConsensus:
    """The plate many reads agree on, its confidence (0..1) and the other strings read, best first.

    ``char_scores``: when the reads carry per-character probabilities, the confidence-weighted mean of them
    at each position of ``text`` (plate character -> probability); empty otherwise.
    """

    text: str
    confidence: float
    alternatives: list[str]
    support: int = 0
    char_scores: tuple[dict[str, float], ...] = ()


CharProbs = Sequence[Mapping[str, float]]
# A read: (text, confidence) or (text, confidence, per-character probabilities of the text).
Read = tuple[str, float] | tuple[str, float, CharProbs | None]


def _vote_positions(reads: Sequence[tuple[str, float, CharProbs | None]]) -> tuple[str, float]:
    """Per-position weighted vote over same-length reads: the text and the mean winning share.

    A read votes for its character with its confidence, times the character's own probability when it has
    per-character probabilities (a character the recogniser hesitated on counts less).
    """
    length = len(reads[0][0])
    chars: list[str] = []
    shares: list[float] = []
    for i in range(length):
        votes: dict[str, float] = defaultdict(float)
        for text, w, probs in reads:
            votes[text[i]] += w * (probs[i].get(text[i], 0.0) if probs else 1.0)
        ch, w = max(votes.items(), key=lambda kv: (kv[1], kv[0]))
        chars.append(ch)
        shares.append(w / (sum(votes.values()) or 1.0))
    return "".join(chars), sum(shares) / length


def _mean_scores(reads: Sequence[tuple[str, float, CharProbs | None]]) -> tuple[dict[str, float], ...]:
    """Confidence-weighted mean per-character probabilities of same-length reads (those that have them)."""
    with_probs = [(w, p) for _, w, p in reads if p]
    if not with_probs:
        return ()
    total = sum(w for w, _ in with_probs)
    out: list[dict[str, float]] = []
    for i in range(len(reads[0][0])):
        acc: dict[str, float] = defaultdict(float)
        for w, probs in with_probs:
            for ch, p in probs[i].items():
                acc[ch] += w * p / total
        out.append(dict(acc))
    return tuple(out)


def consensus(
    reads: Iterable[Read],
    *,
    confusions: Mapping[str, str] | None = None,
    max_distance: int | None = None,
) -> PlateConsensus:
    """Combine reads of one plate: cluster similar strings, weight by confidence, vote per position.

    Strings cluster when their confusion-folded keys are within ``max_distance`` edits (default: a third of
    the length, at least 1). The heaviest cluster wins. Reads of each length are voted on position by position,
    and the length whose voted text is nearest (confidence-weighted edit distance) to all the cluster's reads
    is kept. Every other string read is kept in ``alternatives`` for fuzzy search. A read may carry
    per-character probabilities (one mapping per character of its text): they weight its votes and are
    averaged into ``char_scores``.
    """
    items: list[tuple[str, float, CharProbs | None]] = []
    for read in reads:
        text, conf = read[0], read[1]
        probs = read[2] if len(read) > 2 else None  # type: ignore[misc]
        if text:
            items.append((text, max(float(conf), 1e-3), probs if probs and len(probs) == len(text) else None))
    if not items:
        return PlateConsensus("", 0.0, [])
    clusters: list[list[tuple[str, float, CharProbs | None]]] = []
    keys: list[str] = []
    for item in sorted(items, key=lambda r: -r[1]):
        key = plate_key(item[0], confusions)
        limit = max_distance if max_distance is not None else max(1, len(key) // 3)
        for i, ckey in enumerate(keys):
            if edit_distance(key, ckey) <= limit:
                clusters[i].append(item)
                break
        else:
            clusters.append([item])
            keys.append(key)
    total = sum(c for _, c, _ in items)
    best = max(clusters, key=lambda cl: sum(c for _, c, _ in cl))
    weight = sum(c for _, c, _ in best)
    by_length: dict[int, float] = defaultdict(float)
    for text, conf, _ in best:
        by_length[len(text)] += conf
    # Which length: the one whose voted text is closest (weighted edit distance) to every read of the
    # cluster. Weight alone would follow a mark read as an extra character whenever it is read a few
    # times, and voting misaligned strings position by position makes a text no read had.
    voted = {n: _vote_positions([r for r in best if len(r[0]) == n])[0] for n in by_length}

    def cost(n: int) -> float:
        return sum(c * edit_distance(voted[n], t) for t, c, _ in best)

    length = min(by_length, key=lambda n: (cost(n), -by_length[n], -n))
    same = [r for r in best if len(r[0]) == length]
    text, agreement = _vote_positions(same)
    mean_conf = sum(c * c for _, c, _ in best) / weight
    confidence = mean_conf * (weight / total) * agreement
    ranked: dict[str, float] = defaultdict(float)
    for t, c, _ in items:
        ranked[t] += c
    alternatives = [t for t, _ in sorted(ranked.items(), key=lambda kv: -kv[1]) if t != text]
    return PlateConsensus(
        text, round(confidence, 4), alternatives, support=len(best), char_scores=_mean_scores(same)
    )
