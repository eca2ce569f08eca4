"""Plate patterns: the checked dialect, RE2 on SQLite, the same answers on PostgreSQL, and no stall.

The stall tests carry a pytest timeout instead of a timed assertion: with a backtracking engine the
pattern runs for hours, so the test cannot finish; with RE2 it finishes at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlmodel import Session

from dashcam.db.models import WatchlistEntry
from dashcam.db.session import make_engine, session_scope, upgrade
from dashcam.search import SearchQuery, search, watchlist_matches
from dashcam.search.pattern import MAX_LENGTH, PatternError, check_pattern, full_match, regexp
from tests.search.seed import T0, seed

# 28 alternatives under a star: a backtracking engine tries 28^n paths on an n-character plate that
# does not end in Q (seconds for one 7-character plate, hours for a page of plates)
STALL = "(?:" + "|".join(["."] * 28) + ")*Q"


@pytest.fixture
def db(db_url: str) -> Iterator[tuple[Session, dict[str, int]]]:
    upgrade(db_url)
    engine = make_engine(db_url)
    with session_scope(engine) as s:
        ids = seed(s)
    with session_scope(engine) as s:
        yield s, ids
    engine.dispose()


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("", "empty"),
        ("A" * (MAX_LENGTH + 1), "at most 64"),
        (r"(A)\1", "only \\d"),
        ("(?=AB)AB12CDE", "only (?: ) groups"),
        ("(?i)ab12cde", "only (?: ) groups"),
        ("(?P<x>A)B", "only (?: ) groups"),
        ("A{33}", "above 32"),
        ("A{,3}", "lower bound"),
        ("AB12CD!", "character '!'"),
        (r"\w+", "only \\d"),
        ("AB(", "bad pattern"),
        ("*AB", "bad pattern"),
        ("A:B", "':' is allowed only"),
    ],
)
def test_refused_patterns_say_why(pattern: str, reason: str) -> None:
    with pytest.raises(PatternError, match=re.escape(reason)):
        check_pattern(pattern)
    with pytest.raises(ValueError, match="plate pattern"):
        SearchQuery(plate_pattern=pattern)


def test_accepted_patterns_match_whole_plates_ignoring_case() -> None:
    assert full_match(r"AB1\dCD.", "AB13CDF") and full_match("ab1[0-9]cd.", "AB12CDE")
    assert not full_match("AB1", "AB12CDE")  # the whole plate, not a prefix
    assert full_match("(?:AB|XY)[0-9]{2}[A-Z]{3}", "XY99XYZ") and full_match("[^0-9]+", "ABC")
    assert full_match("^AB.*$", "AB12") and full_match("A{1,32}", "A" * 32)
    assert regexp("(?i)^(?:ab)$", "AB") is True and regexp("x", None) is None


@pytest.mark.timeout(60)
def test_a_backtracking_pattern_cannot_stall_sqlite_regexp() -> None:
    engine = make_engine("sqlite://")
    with engine.connect() as conn:
        row = conn.execute(text("SELECT :t REGEXP :p"), {"t": "AB12CDE" * 4, "p": STALL}).scalar()
    assert row == 0
    assert full_match(STALL, "AB12CDE" * 2) is False


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (r"AB1[0-9]CD.", {"exact_hi", "exact_lo", "one_edit", "two_edits"}),
        (r"ab1\dcd[ef]", {"exact_hi", "exact_lo", "one_edit", "two_edits"}),
        ("(?:AB|A8)12CDE", {"exact_hi", "exact_lo", "confused"}),
        ("[^A]+", {"corrected", "far"}),
        ("[A-Z]{2}[0-9]{2}[A-Z]{3}", {"exact_hi", "exact_lo", "one_edit", "two_edits", "corrected", "far"}),
        ("KL55MN.|XY.*", {"corrected", "far"}),
        ("^XY99XYZ$", {"far"}),
        ("ZZ11AAA", set()),  # corrected away: the effective plate is KL55MNO
        (STALL, set()),
    ],
)
@pytest.mark.timeout(120)
def test_patterns_find_the_same_plates_on_both_backends(
    db: tuple[Session, dict[str, int]], pattern: str, expected: set[str]
) -> None:
    s, ids = db
    by_id = {v: k for k, v in ids.items()}
    page = search(session=s, query=SearchQuery(plate_pattern=pattern))
    assert {by_id[h.sighting_id] for h in page.hits} == expected
    assert page.total == len(expected)


@pytest.mark.timeout(60)
def test_a_stored_watchlist_pattern_cannot_stall_and_a_refused_one_never_matches(
    db: tuple[Session, dict[str, int]],
) -> None:
    s, _ = db
    s.add_all(
        [
            WatchlistEntry(name="stall", pattern=STALL, mode="pattern", created_at=T0),
            WatchlistEntry(name="old python re", pattern="(?=AB)AB12CDE", mode="pattern", created_at=T0),
            WatchlistEntry(name="fine", pattern="AB12CD.", mode="pattern", created_at=T0),
        ]
    )
    s.flush()
    assert [m.name for m in watchlist_matches(session=s, plate_text="AB12CDE")] == ["fine"]
