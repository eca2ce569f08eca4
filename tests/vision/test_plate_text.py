"""Plate text rules: normalisation, fuzzy keys, format correction and the consensus of many reads."""

from __future__ import annotations

import pytest

from dashcam.config import PlatesSection
from dashcam.vision.plate_text import (
    PlateRules,
    consensus,
    correct_format,
    edit_distance,
    normalise,
    normalise_map,
    plate_key,
)

SK = ("SK", r"^[A-Z]{2}[0-9]{3}[A-Z]{2}$")
GB = ("GB", r"^[A-Z]{2}[0-9]{2}[A-Z]{3}$")


def test_normalise_strips_separators_and_case() -> None:
    assert normalise("ab-12 cde") == "AB12CDE"
    assert normalise("OSG=719") == "OSG719"
    assert normalise("RK:346·AL") == "RK346AL"
    assert normalise("RK弹565AV") == "RK565AV"


def test_normalise_drops_state_words_and_country_strip() -> None:
    assert normalise("California 6ABC123") == "6ABC123"
    assert normalise("6ABC123 dmv.ca.gov") == "6ABC123"
    assert normalise("czWSQ 3021") == "WSQ3021"  # small lower-case country code read with the plate
    assert normalise("S|-819AK") == "SI819AK"


def test_normalise_drops_long_slogans_only_when_too_long() -> None:
    rules = PlateRules(max_length=8)
    assert normalise("7ABC123 SUNSHINESTATE", rules) == "7ABC123"
    assert normalise("NEILDMND", rules) == "NEILDMND"  # a vanity plate alone is kept


def test_normalise_map_points_at_the_source_characters() -> None:
    assert normalise_map("czWSQ 3021") == ("WSQ3021", (2, 3, 4, 6, 7, 8, 9))
    assert normalise_map(" S|-819AK") == ("SI819AK", (1, 2, 4, 5, 6, 7, 8))
    assert normalise_map("California 6ABC123")[1] == tuple(range(11, 18))
    assert normalise_map("") == ("", ())


def test_plate_key_folds_confusable_letters() -> None:
    assert plate_key("OSG719") == plate_key("0SG719") == "05G719"
    assert plate_key("b8-iz", {"B": "8", "I": "1", "Z": "2"}) == "8812"
    assert plate_key("AB12CDE") == plate_key("A812C0E")


def test_correct_format_chooses_the_fewest_substitutions() -> None:
    rules = PlateRules.build(formats=[SK])
    assert correct_format("RK8Z6A0", rules) == ("RK826AO", "SK")
    assert correct_format("RK826AO", rules) == ("RK826AO", "SK")
    assert correct_format("8K826AO", rules) == ("BK826AO", "SK")


def test_correct_format_leaves_unmatchable_text_alone() -> None:
    rules = PlateRules.build(formats=[SK, GB])
    assert correct_format("XYZ", rules) == ("XYZ", None)
    assert correct_format("AB12CDE", rules) == ("AB12CDE", "GB")
    assert correct_format("A812CDE", rules) == ("AB12CDE", "GB")
    assert correct_format("ANYTHING", PlateRules()) == ("ANYTHING", None)


def test_correct_format_no_letter_o_pattern() -> None:
    rules = PlateRules.build(formats=[("US", r"^[A-NP-Z0-9]{2,8}$")])
    assert correct_format("CHOP8Y", rules) == ("CH0P8Y", "US")


def _sure(text: str, **unsure: dict[str, float]) -> list[dict[str, float]]:
    """Per-character probabilities: each character certain, except positions given as p<index>=mapping."""
    return [unsure.get(f"p{i}", {ch: 0.9999}) for i, ch in enumerate(text)]


def test_correct_format_with_probabilities_only_makes_plausible_swaps() -> None:
    rules = PlateRules.build(formats=[SK, ("CZ", r"^[0-9][A-Z][0-9A-Z][0-9]{4}$")])
    # An old plate that fits no format: the table alone turns its crisp B into an 8 to fit CZ.
    assert correct_format("BS47040", rules) == ("8S47040", "CZ")
    crisp = _sure("BS47040", p0={"B": 0.9999, "8": 0.00008})
    assert correct_format("BS47040", rules, crisp) == ("BS47040", None)
    # A 0 the recogniser found O-ish enough is swapped as before.
    hesitant = _sure("RK826A0", p6={"0": 0.7, "O": 0.3})
    assert correct_format("RK826A0", rules, hesitant) == ("RK826AO", "SK")
    # Scores that do not line up with the text are ignored.
    assert correct_format("BS47040", rules, crisp[:3]) == ("8S47040", "CZ")


def test_correct_format_with_probabilities_takes_the_likelier_swap() -> None:
    rules = PlateRules.build(formats=[("T", r"^(B8|8B)$")])
    assert correct_format("88", rules) == ("B8", "T")  # the table: the first position that fits
    scores = [{"8": 0.9, "B": 0.1}, {"8": 0.6, "B": 0.4}]
    assert correct_format("88", rules, scores) == ("8B", "T")


def test_rules_from_config_section() -> None:
    section = PlatesSection(min_length=5, max_length=8, formats=[{"country": "GB", "pattern": GB[1]}])
    rules = PlateRules.from_section(section)
    assert (rules.min_length, rules.max_length) == (5, 8)
    assert rules.formats[0].country == "GB"
    assert rules.length_ok("AB12CDE") and not rules.length_ok("AB12")


def test_edit_distance() -> None:
    assert edit_distance("AB12CDE", "AB12CDE") == 0
    assert edit_distance("AB12CDE", "AB12CD") == 1
    assert edit_distance("AB12CDE", "A812C0E") == 2
    assert edit_distance("", "ABC") == 3


def test_consensus_majority_with_confidence() -> None:
    reads = [("AB12CDE", 0.9), ("AB12CDE", 0.8), ("A812CDE", 0.7), ("XY99ZZZ", 0.95)]
    out = consensus(reads)
    assert out.text == "AB12CDE"
    assert out.support == 3
    assert 0.0 < out.confidence < 0.9
    assert out.alternatives[0] in {"XY99ZZZ", "A812CDE"}
    assert set(out.alternatives) == {"XY99ZZZ", "A812CDE"}


def test_consensus_votes_per_position() -> None:
    # No read is right, but each position is right in the majority of reads.
    reads = [("AB12CDF", 0.8), ("AB17CDE", 0.8), ("AR12CDE", 0.8)]
    out = consensus(reads)
    assert out.text == "AB12CDE"
    assert set(out.alternatives) == {"AB12CDF", "AB17CDE", "AR12CDE"}


def test_consensus_weights_confidence() -> None:
    assert consensus([("AB12CDE", 0.95), ("AB12CDF", 0.3)]).text == "AB12CDE"
    assert consensus([("AB12CDE", 0.3), ("AB12CDF", 0.95)]).text == "AB12CDF"


def test_consensus_prefers_the_heavier_length() -> None:
    out = consensus([("AB12CDE", 0.9), ("AB12CDE", 0.9), ("AB12CDEI", 0.95)])
    assert out.text == "AB12CDE"
    assert out.alternatives == ["AB12CDEI"]


def test_consensus_keeps_the_length_nearest_to_all_reads() -> None:
    # Five crops of a real Washington plate (UJ5E1A, an emblem between the groups): two read the emblem as
    # H, one a frame mark as T. Seven-letter reads weigh more, but voting them position by position mixes
    # "UJ5HE1A" with "TUJ5E1A" into UJ55E1A, which no crop read; the six-letter text is nearer to them all.
    reads = [("UJ5E1A", 0.8), ("UJ5HE1A", 0.75), ("UJ5E1A", 0.8), ("TUJ5E1A", 0.9), ("UJ5HE1A", 0.75)]
    assert consensus(reads).text == "UJ5E1A"
    # one read too many of the longer text, and it is the nearer one
    assert consensus([("UJ5HE1A", 0.8)] * 3 + [("UJ5E1A", 0.8)]).text == "UJ5HE1A"


def test_consensus_weights_votes_by_character_probability() -> None:
    plain = [("AB12", 0.9), ("A812", 0.8)]
    assert consensus(plain).text == "AB12"
    # The first read hesitated on its B, the second was sure of its 8: the 8 wins the position.
    probs = [
        ("AB12", 0.9, _sure("AB12", p1={"B": 0.3, "8": 0.25})),
        ("A812", 0.8, _sure("A812", p1={"8": 0.95, "B": 0.04})),
    ]
    out = consensus(probs)
    assert out.text == "A812"
    assert out.char_scores[1]["8"] == pytest.approx((0.9 * 0.25 + 0.8 * 0.95) / 1.7)
    assert out.char_scores[0]["A"] == pytest.approx(0.9999)
    assert consensus(plain).char_scores == ()


def test_consensus_single_and_empty() -> None:
    single = consensus([("AB12CDE", 0.8)])
    assert (single.text, single.confidence, single.alternatives) == ("AB12CDE", 0.8, [])
    assert consensus([]).text == ""
    assert consensus([("", 0.9)]).confidence == 0.0
