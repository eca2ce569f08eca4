"""search(), plates_summary(), sighting_detail() and the watchlist, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlmodel import Session

from dashcam.db.models import Sighting, WatchlistEntry
from dashcam.db.session import make_engine, session_scope, upgrade
from dashcam.search import (
    SearchQuery,
    index_plates,
    plates_summary,
    query_for_entry,
    reindex_plates,
    search,
    sighting_detail,
    watchlist_matches,
)
from tests.search.seed import BERLIN, MUNICH, T0, seed


@pytest.fixture
def db(db_url: str) -> Iterator[tuple[Session, dict[str, int]]]:
    upgrade(db_url)
    engine = make_engine(db_url)
    with session_scope(engine) as s:
        ids = seed(s)
    with session_scope(engine) as s:
        yield s, ids
    engine.dispose()


def names(page, ids: dict[str, int]) -> list[str]:  # type: ignore[no-untyped-def]
    by_id = {v: k for k, v in ids.items()}
    return [by_id[h.sighting_id] for h in page.hits]


def test_exact_plate(db) -> None:  # type: ignore[no-untyped-def]
    s, ids = db
    page = search(session=s, query=SearchQuery(plate="ab12 cde", confusions=False))
    assert names(page, ids) == ["exact_hi", "exact_lo"]  # by confidence
    hit = page.hits[0]
    assert (hit.match, hit.edits, hit.plate, hit.file_name) == (
        "exact",
        0,
        "AB12CDE",
        "2024_0501_120000_000001F.MP4",
    )
    assert hit.time_utc == T0 and hit.thumbnail_key == "heavy/thumbs/1.jpg" and hit.thumbnail_id
    assert page.total == 2 and not page.has_more


@pytest.mark.parametrize("typed", ["A812CDE", "AB12COE", "A8I2C0E"])
def test_confusions_match_without_edits(db, typed: str) -> None:  # type: ignore[no-untyped-def]
    s, ids = db
    page = search(session=s, query=SearchQuery(plate=typed))
    assert set(names(page, ids)) == {"exact_hi", "exact_lo", "confused"}
    assert {h.match for h in page.hits} <= {"exact", "confusion"}


def test_exact_text_ranks_before_its_confusions(db) -> None:  # type: ignore[no-untyped-def]
    s, ids = db
    page = search(session=s, query=SearchQuery(plate="A812CDE"))
    assert names(page, ids) == ["confused", "exact_hi", "exact_lo"]
    assert [h.match for h in page.hits] == ["exact", "confusion", "confusion"]
    # fewer confusable swaps rank first, whatever the confidence
    page = search(session=s, query=SearchQuery(plate="AB12COE"))
    assert names(page, ids) == ["exact_hi", "exact_lo", "confused"]
    assert page.hits[0].distance == 0.5 and page.hits[2].distance == 1.0


def test_one_and_two_edits_ranked(db) -> None:  # type: ignore[no-untyped-def]
    s, ids = db
    one = search(session=s, query=SearchQuery(plate="AB12CDE", fuzzy=1))
    assert names(one, ids) == ["exact_hi", "exact_lo", "confused", "one_edit"]
    assert one.hits[-1].match == "edits" and one.hits[-1].edits == 1
    two = search(session=s, query=SearchQuery(plate="AB12CDE", fuzzy=2))
    assert names(two, ids) == ["exact_hi", "exact_lo", "confused", "one_edit", "two_edits"]
    assert two.hits[-1].edits == 2  # despite the highest confidence
    # a missing character is one edit; equal distances go by confidence
    short = search(session=s, query=SearchQuery(plate="AB12CD", fuzzy=1))
    assert names(short, ids) == ["exact_hi", "one_edit", "exact_lo", "confused"]
    assert [h.distance for h in short.hits] == [1.0, 1.0, 1.0, 1.5]
    assert not search(session=s, query=SearchQuery(plate="QQ99QQQ", fuzzy=2)).hits


def test_corrected_plate_wins(db) -> None:  # type: ignore[no-untyped-def]
    s, ids = db
    page = search(session=s, query=SearchQuery(plate="KL55MNO"))
    assert names(page, ids) == ["corrected"]
    assert page.hits[0].plate == "KL55MNO" and page.hits[0].plate_ocr == "ZZ11AAA" and page.hits[0].corrected
    assert not search(session=s, query=SearchQuery(plate="ZZ11AAA", fuzzy=1)).hits


def test_label_time_and_clip_filters(db) -> None:  # type: ignore[no-untyped-def]
    s, ids = db
    assert names(search(session=s, query=SearchQuery(label="truck")), ids) == ["one_edit"]
    assert names(search(session=s, query=SearchQuery(label="person")), ids) == ["person"]
    window = SearchQuery(since=T0 + timedelta(days=1), until=T0 + timedelta(days=3))
    assert names(search(session=s, query=window), ids) == ["confused", "exact_lo"]  # newest first
    assert set(names(search(session=s, query=SearchQuery(channel="r")), ids)) == {
        "confused",
        "one_edit",
        "two_edits",
    }
    assert len(search(session=s, query=SearchQuery(kinds=("event",), label="car")).hits) == 2
    assert search(session=s, query=SearchQuery(protected_only=True)).total == 3
    mixed = SearchQuery(plate="AB12CDE", fuzzy=2, channel="F")
    assert names(search(session=s, query=mixed), ids) == ["exact_hi", "exact_lo"]


def test_map_filters(db) -> None:  # type: ignore[no-untyped-def]
    s, ids = db
    near = search(session=s, query=SearchQuery(near=(*MUNICH, 1000.0)))
    assert set(names(near, ids)) == {"exact_hi", "confused", "corrected", "person"}
    assert all(h.distance_m is not None and h.distance_m <= 1000 for h in near.hits)
    assert max(h.distance_m or 0 for h in near.hits) > 400  # "confused" is ~0.5 km away
    tight = search(session=s, query=SearchQuery(near=(*MUNICH, 100.0), label="car"))
    assert set(names(tight, ids)) == {"exact_hi", "corrected"}
    box = search(session=s, query=SearchQuery(bbox=(48.1, 11.5, 48.3, 11.7)))
    assert set(names(box, ids)) == {"exact_hi", "exact_lo", "confused", "corrected", "person"}
    both = search(session=s, query=SearchQuery(plate="AB12CDE", bbox=(48.1, 11.5, 48.3, 11.7)))
    assert names(both, ids) == ["exact_hi", "exact_lo", "confused"]


def test_same_shape_other_values(db) -> None:  # type: ignore[no-untyped-def]
    """search() builds one statement per filter shape and binds the values: each call gets its own."""
    s, ids = db
    munich = {"exact_hi", "confused", "corrected", "person"}
    for _ in range(2):
        assert set(names(search(session=s, query=SearchQuery(near=(*MUNICH, 1000.0))), ids)) == munich
        berlin = search(session=s, query=SearchQuery(near=(*BERLIN, 1000.0)))
        assert set(names(berlin, ids)) == {"one_edit", "two_edits", "far"}
        assert berlin.total == 3 and all(h.distance_m is not None for h in berlin.hits)
    # too tall for the latitude-band index (no band filter), then a box that needs it
    tall = search(session=s, query=SearchQuery(bbox=(40.0, 5.0, 55.0, 15.0)))
    assert tall.total == 8 and len(tall.hits) == 8
    box = search(session=s, query=SearchQuery(bbox=(52.5, 13.3, 52.6, 13.5)))
    assert set(names(box, ids)) == {"one_edit", "two_edits", "far"}
    # a page past the last match of a map query still counts them
    past = search(session=s, query=SearchQuery(near=(*MUNICH, 1000.0), offset=10))
    assert past.hits == [] and past.total == 4 and not past.has_more
    assert search(session=s, query=SearchQuery(label="car", kinds=("normal",))).total == 4
    assert search(session=s, query=SearchQuery(label="car", kinds=("event", "normal"))).total == 6
    assert names(search(session=s, query=SearchQuery(label="truck", channel="F")), ids) == []
    assert names(search(session=s, query=SearchQuery(label="truck", channel="R")), ids) == ["one_edit"]


def test_pagination(db) -> None:  # type: ignore[no-untyped-def]
    s, ids = db
    q = SearchQuery(plate="AB12CDE", fuzzy=2, limit=2)
    pages = [search(session=s, query=q.model_copy(update={"offset": o})) for o in (0, 2, 4, 6)]
    assert [p.total for p in pages] == [5, 5, 5, 5]
    assert [p.has_more for p in pages] == [True, True, False, False]
    assert sum((names(p, ids) for p in pages), []) == [
        "exact_hi",
        "exact_lo",
        "confused",
        "one_edit",
        "two_edits",
    ]
    everything = search(session=s, query=SearchQuery(limit=3))
    assert everything.total == 8 and everything.has_more
    assert search(session=s, query=SearchQuery(limit=3, count_total=False)).total is None


def test_plate_pattern(db) -> None:  # type: ignore[no-untyped-def]
    s, ids = db
    page = search(session=s, query=SearchQuery(plate_pattern=r"AB1[0-9]CD."))
    assert set(names(page, ids)) == {"exact_hi", "exact_lo", "one_edit", "two_edits"}
    assert {h.match for h in page.hits} == {"pattern"}
    lower = search(session=s, query=SearchQuery(plate_pattern=r"ab1[0-9]cd."))  # case does not matter
    assert set(names(lower, ids)) == set(names(page, ids))
    with pytest.raises(ValueError):
        SearchQuery(plate_pattern="AB(")


def test_plates_summary(db) -> None:  # type: ignore[no-untyped-def]
    s, ids = db
    page = plates_summary(session=s)
    assert page.total == 6
    top = page.items[0]
    assert (top.plate, top.sightings, top.first_seen, top.last_seen) == (
        "AB12CDE",
        2,
        T0,
        T0 + timedelta(days=1),
    )
    assert top.last_sighting_id == ids["exact_lo"] and top.last_lat == 48.20
    assert "ZZ11AAA" not in {i.plate for i in page.items}  # corrected away
    assert [i.plate for i in plates_summary(session=s, prefix="ab1", order="plate").items] == [
        "AB12CDE",
        "AB12CDF",
        "AB13CDF",
    ]
    recent = plates_summary(session=s, since=T0 + timedelta(days=1), order="last_seen")
    assert recent.items[0].plate == "XY99XYZ" and recent.total == 6
    assert {i.plate: i.sightings for i in recent.items}["AB12CDE"] == 1


def test_index_follows_corrections(db) -> None:  # type: ignore[no-untyped-def]
    s, ids = db
    sighting = s.get(Sighting, ids["exact_lo"])
    sighting.plate_corrected = "QQ11QQQ"
    s.add(sighting)
    s.flush()
    index_plates(session=s, sighting_ids=[ids["exact_lo"]])
    counts = {i.plate: i.sightings for i in plates_summary(session=s).items}
    assert counts["AB12CDE"] == 1 and counts["QQ11QQQ"] == 1
    assert names(search(session=s, query=SearchQuery(plate="OO11OOO", fuzzy=1)), ids) == ["exact_lo"]
    assert reindex_plates(session=s)[0] == 7
    assert {i.plate: i.sightings for i in plates_summary(session=s).items} == counts


def test_sighting_detail(db) -> None:  # type: ignore[no-untyped-def]
    s, ids = db
    s.add(WatchlistEntry(name="suspect", pattern="AB12CDE", mode="exact", created_at=T0))
    s.flush()
    d = sighting_detail(session=s, sighting_id=ids["exact_hi"])
    assert d is not None
    assert d.hit.plate == "AB12CDE" and [r.t for r in d.reads] == [1.0, 2.0]
    assert d.reads[0].text_raw == "AB12 CDE" and [m.kind for m in d.media] == ["thumbnail"]
    assert d.previous_id is None and d.next_id == ids["exact_lo"]
    assert [w.name for w in d.watchlist] == ["suspect"]
    later = sighting_detail(session=s, sighting_id=ids["exact_lo"])
    assert later is not None and later.previous_id == ids["exact_hi"] and later.next_id is None
    assert sighting_detail(session=s, sighting_id=10**9) is None


def test_watchlist(db) -> None:  # type: ignore[no-untyped-def]
    s, ids = db
    entries = [
        WatchlistEntry(name="exact", pattern="ab12 cde", mode="exact", created_at=T0),
        WatchlistEntry(name="pattern", pattern=r"AB1\dCD.", mode="pattern", created_at=T0),
        WatchlistEntry(name="edits", pattern="AB12CDX", mode="edits", max_edits=1, created_at=T0),
        WatchlistEntry(name="broken", pattern="AB(", mode="pattern", created_at=T0),
    ]
    s.add_all(entries)
    s.flush()
    assert [m.name for m in watchlist_matches(session=s, plate_text="AB12CDE")] == [
        "exact",
        "pattern",
        "edits",
    ]
    assert [m.name for m in watchlist_matches(session=s, plate_text="AB13CDF")] == ["pattern"]
    found = watchlist_matches(session=s, plate_text="A812C0X")  # confusions do not count as edits
    assert [(m.name, m.edits) for m in found] == [("edits", 0)]
    assert watchlist_matches(session=s, plate_text="--") == []
    by_entry = {e.name: names(search(session=s, query=query_for_entry(e)), ids) for e in entries[:3]}
    assert by_entry["exact"] == ["exact_hi", "exact_lo"]
    assert set(by_entry["pattern"]) == {"exact_hi", "exact_lo", "one_edit", "two_edits"}
    # AB12CDE and AB12CDF are one edit away alike: confidence orders them
    assert by_entry["edits"] == ["exact_hi", "one_edit", "exact_lo", "confused"]


def test_a_plate_search_reads_its_hits_from_the_covering_index(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Every column a hit shows comes from ix_sighting_plate_cover: SQLite's plan for the OCR branch says
    COVERING INDEX, so a plate's hits are a few index pages in a row and not a table page each (each one
    decrypted under SQLCipher). A column added to the hits but not to the index fails here."""
    from sqlalchemy import event

    url = f"sqlite:///{tmp_path / 'plan.db'}"
    upgrade(url)
    engine = make_engine(url)
    seen: list[tuple[str, object]] = []
    event.listen(engine, "before_cursor_execute", lambda *a: seen.append((a[2], a[3])))
    with session_scope(engine) as s:
        seed(s)
    with session_scope(engine) as s:
        seen.clear()
        for q in (SearchQuery(plate="AB12CDE", confusions=False), SearchQuery(plate="AB12CDE", fuzzy=2)):
            assert search(session=s, query=q).hits
        pages = [(sql, params) for sql, params in seen if "UNION ALL" in sql]
        assert len(pages) == 2
        raw = s.connection().connection.dbapi_connection
        for sql, params in pages:
            plan = [r[3] for r in raw.execute("EXPLAIN QUERY PLAN " + sql, params)]
            on_plate = [p for p in plan if "(plate_text=?)" in p]
            assert on_plate and all("COVERING INDEX ix_sighting_plate_cover" in p for p in on_plate), plan
            assert not any(p.startswith("SEARCH sighting USING INTEGER PRIMARY KEY") for p in plan), plan
    engine.dispose()
