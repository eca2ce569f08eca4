"""Migration 0003 indexes the plates of sightings written before it, and goes back down cleanly."""

from __future__ import annotations

from sqlalchemy import inspect, select

from dashcam.db.models import Plate
from dashcam.db.session import downgrade, make_engine, session_scope, upgrade
from dashcam.search import SearchQuery, plates_summary, search
from tests.search.seed import seed


def test_backfill_and_downgrade(db_url: str) -> None:
    upgrade(db_url)
    engine = make_engine(db_url)
    with session_scope(engine) as s:
        seed(s)
        indexed = {p.text: p.sightings for p in s.execute(select(Plate)).scalars()}
    engine.dispose()
    downgrade(db_url, "0002")
    engine = make_engine(db_url)
    assert not {"plate", "plate_variant"} & set(inspect(engine).get_table_names())
    engine.dispose()
    upgrade(db_url)
    engine = make_engine(db_url)
    with session_scope(engine) as s:
        assert {i.plate: i.sightings for i in plates_summary(session=s).items} == {
            t: n for t, n in indexed.items() if n
        }
        assert len(search(session=s, query=SearchQuery(plate="AB12CDE", fuzzy=2)).hits) == 5
    engine.dispose()
