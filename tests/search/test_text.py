"""Plate text arithmetic: folding, distances, deletion neighbourhoods."""

from __future__ import annotations

from dashcam.search import deletion_variants, fold_confusions, levenshtein, normalize_plate, weighted_distance


def test_normalize_and_fold() -> None:
    assert normalize_plate(" ab-12 cde ") == "AB12CDE"
    assert fold_confusions("AB12 CDE") == "A812C0E"
    assert fold_confusions("ab12coe") == fold_confusions("A812CDE")
    assert fold_confusions("SZQ", {"S": "5"}) == "5ZQ"


def test_distances() -> None:
    assert levenshtein("A812C0E", "A812C0E") == 0
    assert levenshtein("ABC", "AXC") == 1
    assert levenshtein("ABCD", "ABD") == 1
    assert levenshtein("ABCDEF", "ABDCEFG") == 3
    assert weighted_distance("AB12CDE", "AB12COE") == 0.5  # D and O both fold to 0
    assert weighted_distance("AB12CDE", "AB12CXE") == 1.0
    assert weighted_distance("AB12CDE", "AB12CD") == 1.0


def test_deletion_variants() -> None:
    v = deletion_variants("A812C0E")
    assert len(v) == 1 + 7 + 21 and "A812C0E" in v and "812C0" in v
    assert deletion_variants("AAB", 1) == {"AAB", "AB", "AA"}
    assert "" not in deletion_variants("AB")


def test_fold_agrees_with_the_vision_plate_key() -> None:
    """The heavy stage writes sighting.plate_key with vision's plate_key: search must fold the same way."""
    import pytest

    plate_text = pytest.importorskip("dashcam.vision.plate_text")
    for raw in ["AB12 CDE", "ab-12-coe", "SZ0Q D1I8", "x", "Ü12ß"]:
        assert fold_confusions(raw) == plate_text.plate_key(raw)
        assert fold_confusions(raw, {"O": "0"}) == plate_text.plate_key(raw, {"O": "0"})
