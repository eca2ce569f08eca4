"""Splitting a wrong join, and links over a file split, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlmodel import col

from dashcam.db import crud
from dashcam.db.models import Clip, GpsPoint, Plate, PlateRead, Sighting, SightingTrack
from dashcam.db.session import make_engine, session_scope, upgrade
from dashcam.search import index_plates
from dashcam.stages.heavy.links import link_neighbours
from dashcam.stages.heavy.split import SplitError, split_sighting

T0 = datetime(2024, 5, 18, 9, 30, tzinfo=timezone.utc)
RED = [0.0] * 10 + [0.5, 0.5] + [0.0] * 84  # a colour signature (96 bins)
GREY = [0.0] * 90 + [0.5, 0.5] + [0.0] * 4


@pytest.fixture
def engine(db_url: str):  # type: ignore[no-untyped-def]
    upgrade(db_url)
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


def _clip(s, name: str, start: datetime, seq: int) -> int:  # type: ignore[no-untyped-def]
    cid, _ = crud.register_clip(
        session=s,
        content_hash=name[0] * 63 + str(seq),
        file_name=name,
        size_bytes=1,
        channel="F",
        sequence=seq,
        recorded_at=start,
        duration_s=30.0,
    )
    for t in range(31):
        s.add(
            GpsPoint(
                clip_id=cid, t=float(t), time_utc=start + timedelta(seconds=t), lat=50 + t / 1e4, lon=30.0
            )
        )
    return cid


def _boxes(t0: float, t1: float, x0: float, vx: float, h: float = 80.0) -> list[list[float]]:
    out, t = [], t0
    while t <= t1 + 1e-6:
        x = x0 + vx * (t - t0)
        out.append([round(t, 2), round(x, 1), 300.0, round(x + 1.3 * h, 1), 300.0 + h, 0.6])
        t += 0.1
    return out


def _read(sid: int, cid: int, t: float, text: str) -> PlateRead:
    return PlateRead(
        sighting_id=sid, clip_id=cid, t=t, text_raw=text, text=text, plate_key=text, confidence=0.9
    )


def test_a_wrong_join_splits_into_its_tracks(engine) -> None:  # type: ignore[no-untyped-def]
    """Two cars one after the other, joined as one: split, each gets its boxes, reads, plate, best frame,
    time and place; the plate index counts both plates; the next file's link follows the later car."""
    with session_scope(engine) as s:
        cid = _clip(s, "2024_0518_093000_000001F.MP4", T0, 1)
        nxt = _clip(s, "2024_0518_093030_000002F.MP4", T0 + timedelta(seconds=30), 2)
        boxes = _boxes(2, 8, 100, 20) + _boxes(12, 29.9, 500, 5)
        joined = Sighting(
            clip_id=cid, track_id=1, label="car", score=0.6, first_s=2.0, last_s=29.9, best_s=5.0,
            best_box=[160, 300, 264, 380], frames=len(boxes), plate_text="AB12CDE",
            plate_key="AB12CDE", merged_from=2, parts=[[2.0, 8.0], [12.0, 29.9]],
        )  # fmt: skip
        s.add(joined)
        s.flush()
        assert joined.id is not None
        s.add(SightingTrack(sighting_id=joined.id, boxes=boxes, signature=RED))
        later = Sighting(
            clip_id=nxt, track_id=1, label="car", score=0.6, first_s=0.0, last_s=3.0, best_s=1.0,
            frames=31, continues_id=joined.id,
        )  # fmt: skip
        s.add(later)
        s.flush()
        assert later.id is not None
        s.add(SightingTrack(sighting_id=later.id, boxes=_boxes(0, 3, 600, 5)))
        for t in (3.0, 4.0, 5.0):
            s.add(_read(joined.id, cid, t, "AB12CDE"))
        for t in (15.0, 16.0, 20.0):
            s.add(_read(joined.id, cid, t, "XY34ZZZ"))
        s.flush()
        index_plates(session=s, sighting_ids=[joined.id], confusions=None)
        sid, later_id = joined.id, later.id
    with session_scope(engine) as s:
        ids = split_sighting(session=s, sighting_id=sid, confusions=None)
    assert len(ids) == 2 and ids[0] == sid
    with session_scope(engine) as s:
        first, second = (s.get(Sighting, i) for i in ids)
        assert first is not None and second is not None
        tracks = [s.get(SightingTrack, i) for i in ids]
        assert tracks[0] is not None and tracks[1] is not None
        assert tracks[0].signature == RED and tracks[1].signature == RED
        assert (first.first_s, first.last_s, first.merged_from, first.parts) == (2.0, 8.0, 1, None)
        assert (second.first_s, second.last_s) == (12.0, 29.9)
        assert all(2.0 <= b[0] <= 8.0 for b in tracks[0].boxes) and first.frames == len(tracks[0].boxes) > 0
        assert (
            all(12.0 <= b[0] <= 29.9 for b in tracks[1].boxes) and second.frames == len(tracks[1].boxes) > 0
        )
        assert first.plate_text == "AB12CDE" and second.plate_text == "XY34ZZZ"
        assert 12.0 <= second.best_s <= 29.9 and second.lat is not None
        assert (
            second.time_utc is not None
            and abs(
                (
                    second.time_utc.replace(tzinfo=timezone.utc) - (T0 + timedelta(seconds=second.best_s))
                ).total_seconds()
            )
            < 1.0
        )
        reads = s.execute(select(PlateRead.sighting_id, PlateRead.text)).all()
        assert {(r.sighting_id, r.text) for r in reads} == {(ids[0], "AB12CDE"), (ids[1], "XY34ZZZ")}
        plates = {p.text: p.sightings for p in s.execute(select(Plate)).scalars()}
        assert plates.get("AB12CDE") == 1 and plates.get("XY34ZZZ") == 1
        assert s.get(Sighting, later_id).continues_id == ids[1]  # type: ignore[union-attr]
        with pytest.raises(SplitError, match="one track"):
            split_sighting(session=s, sighting_id=ids[1], confusions=None)
        with pytest.raises(SplitError, match="no sighting"):
            split_sighting(session=s, sighting_id=10_000, confusions=None)


def test_a_car_over_a_file_split_is_linked_and_a_new_drive_is_not(engine) -> None:  # type: ignore[no-untyped-def]
    """The red car at the end of one file and the start of the next is one vehicle; the grey one that
    starts the next file elsewhere is not; files whose pictures do not go on over the seam (two drives
    that happen to follow in name and time) link nothing."""
    look = [100] * 576
    edges = {"first": [0.0, look], "last": [29.9, look]}
    with session_scope(engine) as s:
        a = _clip(s, "2024_0518_093000_000001F.MP4", T0, 1)
        b = _clip(s, "2024_0518_093030_000002F.MP4", T0 + timedelta(seconds=30), 2)
        red_a = Sighting(clip_id=a, track_id=1, label="car", score=0.6, first_s=20, last_s=29.9, best_s=25)
        red_b = Sighting(clip_id=b, track_id=1, label="car", score=0.6, first_s=0.0, last_s=5, best_s=1)
        grey_b = Sighting(clip_id=b, track_id=2, label="car", score=0.6, first_s=0.0, last_s=5, best_s=1)
        s.add_all([red_a, red_b, grey_b])
        s.flush()
        for row, boxes, look_of in (
            (red_a, _boxes(20, 29.9, 100, 20), RED),
            (red_b, _boxes(0.0, 5, 100 + 20 * 10.1, 20), RED),
            (grey_b, _boxes(0.0, 5, 900, 0), GREY),
        ):
            assert row.id is not None
            s.add(SightingTrack(sighting_id=row.id, boxes=boxes, signature=look_of))
        from dashcam.db.models import StageRun

        s.add(StageRun(clip_id=a, stage="heavy", version="5", status="done", stats={"edges": edges}))
        s.flush()
        assert link_neighbours(s, b, edges) == 1
        ids = red_a.id, red_b.id, grey_b.id
    with session_scope(engine) as s:
        assert s.get(Sighting, ids[1]).continues_id == ids[0]  # type: ignore[union-attr]
        assert s.get(Sighting, ids[2]).continues_id is None  # type: ignore[union-attr]
        # the same files, but the next one's first frame shows another place: no link, the old one gone
        cut = {"first": [0.0, [10] * 576], "last": [29.9, look]}
        assert link_neighbours(s, s.get(Sighting, ids[1]).clip_id, cut) == 0  # type: ignore[union-attr]
        assert s.get(Sighting, ids[1]).continues_id is None  # type: ignore[union-attr]
        # deleting the earlier sighting (a rerun of its file) leaves no dangling link
        s.get(Sighting, ids[1]).continues_id = ids[0]  # type: ignore[union-attr]
        s.flush()
        s.delete(s.get(Sighting, ids[0]))
    with session_scope(engine) as s:
        assert s.get(Sighting, ids[1]).continues_id is None  # type: ignore[union-attr]
        assert s.execute(select(col(Clip.id))).all()
