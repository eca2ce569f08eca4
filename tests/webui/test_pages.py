"""Every page's behaviour through NiceGUI's simulated user (no browser)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from nicegui.testing import User

from tests.webui.seeding import PASSWORD, USERNAME

pytestmark = pytest.mark.anyio


async def login(user: User, target: str = "/") -> None:
    await user.open(target)
    await user.should_see(marker="login")
    user.find(marker="username").type(USERNAME)
    user.find(marker="password").type(PASSWORD)
    user.find(marker="login").click()
    await user.should_see(marker="nav-search", retries=100)


async def test_login_is_required(user: User) -> None:
    await user.open("/plates")
    await user.should_see("Log in")
    await user.should_not_see(marker="search")


async def test_login_then_search_finds_the_seeded_plate(user: User, ids: dict[str, int]) -> None:
    await login(user)
    await user.should_see(marker="search")
    user.find(marker="search").type("AB12CDE").trigger("keydown.enter")
    await user.should_see("4 of 4 sightings", retries=50)  # exact, then O/0-style look-alikes, then 1 edit
    await user.should_see(marker=f"hit-{ids['exact_hi']}", retries=50)
    await user.should_see(marker=f"hit-{ids['exact_lo']}", retries=50)
    await user.should_not_see(marker=f"hit-{ids['far']}")


async def test_fuzzy_query_finds_the_confusable_plate(user: User, ids: dict[str, int]) -> None:
    await login(user)
    user.find(marker="search").type("AB12CDE ~0").trigger("keydown.enter")
    await user.should_see("3 of 3 sightings", retries=50)
    # B/8 is an OCR confusion: A812CDE matches even with no edits allowed, after the exact reads
    await user.should_see(marker=f"hit-{ids['confused']}", retries=50)
    await user.should_not_see(marker=f"hit-{ids['one_edit']}")
    user.find(marker="search").clear().type("AB12CDE ~1").trigger("keydown.enter")
    await user.should_see(marker=f"hit-{ids['one_edit']}", retries=50)
    await user.should_see("4 of 4 sightings", retries=50)


async def test_label_and_date_words(user: User, ids: dict[str, int]) -> None:
    await login(user)
    user.find(marker="search").type("person 2024-05-02").trigger("keydown.enter")
    await user.should_see("1 of 1 sightings", retries=50)
    await user.should_see(marker=f"hit-{ids['person']}", retries=50)
    await user.should_not_see(marker=f"hit-{ids['exact_lo']}")  # a car on that day


async def test_sighting_page_shows_reads_video_and_map(user: User, ids: dict[str, int]) -> None:
    await login(user, f"/sighting/{ids['exact_hi']}")
    await user.should_see(marker="plate")
    reads = user.find(marker="reads").elements.pop()
    assert [r["raw"] for r in reads.rows] == ["AB12 CDE", "AB12 CDE"]  # type: ignore[attr-defined]
    assert {r["conf"] for r in reads.rows} == {"0.90"}  # type: ignore[attr-defined]
    video = user.find(marker="video").elements.pop()
    assert video.props["src"] == f"/media/{ids['video']}#t=2.0"
    leaflet = user.find(marker="mini-map").elements.pop()
    assert any(layer.to_dict()["type"] == "marker" for layer in leaflet.layers)  # type: ignore[attr-defined]
    await user.should_see(marker="gpx")
    await user.should_see(marker="plate-crop")


async def test_correction_sticks_and_keeps_the_reads(user: User, ids: dict[str, int]) -> None:
    sid = ids["exact_lo"]
    await login(user, f"/sighting/{sid}")
    user.find(marker="fix-input").type("AB12CDX")
    user.find(marker="fix-save").click()
    await user.should_see(marker="corrected", retries=50)
    await user.open(f"/sighting/{sid}")
    await user.should_see("AB12CDX")
    await user.should_see("corrected · OCR read AB12CDE")
    await user.open("/?q=AB12CDX%20~0")
    await user.should_see(marker=f"hit-{sid}", retries=50)

    from sqlmodel import Session, select

    from dashcam.db.models import Clip, Sighting
    from webui import state

    with Session(state.get().engine) as session:
        s = session.exec(select(Sighting).where(Sighting.id == sid)).one()
        assert (s.plate_text, s.plate_corrected) == ("AB12CDE", "AB12CDX")
        assert not session.get(Clip, s.clip_id).pinned  # type: ignore[union-attr]


async def test_pin_keeps_the_clip(user: User, ids: dict[str, int]) -> None:
    await login(user, f"/sighting/{ids['exact_hi']}")
    user.find(marker="pin").click()
    await user.should_see("Clip pinned", retries=50)
    from sqlmodel import Session

    from dashcam.db.models import Clip
    from webui import state

    with Session(state.get().engine) as session:
        assert session.get(Clip, ids["clip_front"]).pinned  # type: ignore[union-attr]


async def test_watchlist_notice(user: User, ids: dict[str, int], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="webui.watch")
    await login(user, "/plates")
    user.find(marker="watch-name").type("Neighbour's van")
    user.find(marker="watch-pattern").type("AB12CDF")
    user.find(marker="watch-mode").elements.pop().set_value("edits")
    user.find(marker="watch-edits").elements.pop().set_value(1)
    user.find(marker="watch-add").click()
    await user.should_see("Neighbour's van", retries=50)
    caplog.clear()
    await user.open("/")
    # the page looks for new hits just after it is shown: that look must be over before the sighting comes,
    # or it would take the new sighting as already seen
    await _eventually_logged(caplog, "has seen sightings up to")
    assert not any("Neighbour's van" in m for m in user.notify.messages)  # nothing new seen yet

    from sqlmodel import Session

    from dashcam.db.models import Sighting
    from webui import state

    with Session(state.get().engine) as session:  # the pipeline writes a new sighting: AB12CDE, one edit away
        session.add(
            Sighting(
                clip_id=ids["clip_rear"],
                track_id=99,
                label="car",
                score=0.9,
                first_s=0.0,
                last_s=1.0,
                best_s=0.5,
                plate_text="AB12CDE",
                plate_confidence=0.9,
            )
        )
        session.commit()
    await user.open("/plates")
    await _eventually(user, "Neighbour's van")
    await user.open(f"/sighting/{ids['one_edit']}")
    await user.should_see(marker="watchlist-banner")


async def _until(done: Callable[[], bool], tries: int) -> bool:
    """Whether ``done()`` comes true within ``tries`` looks 0.1 s apart."""
    import asyncio

    for _ in range(tries):
        if done():
            return True
        await asyncio.sleep(0.1)
    return False


async def _eventually_logged(caplog: pytest.LogCaptureFixture, text: str) -> None:
    if not await _until(lambda: any(text in r.getMessage() for r in caplog.records), 100):
        raise AssertionError(f"never logged {text!r}")


async def _eventually(user: User, text: str) -> bool:
    if not await _until(lambda: any(text in m for m in user.notify.messages), 50):
        raise AssertionError(f"no notice with {text!r}: {user.notify.messages}")
    return True


async def test_plates_page_lists_plates(user: User) -> None:
    import asyncio

    await login(user, "/plates")
    await user.should_see(marker="plates")
    table = user.find(marker="plates").elements.pop()
    for _ in range(50):
        if table.rows:  # type: ignore[attr-defined]
            break
        await asyncio.sleep(0.1)
    plates = {r["plate"]: r["n"] for r in table.rows}  # type: ignore[attr-defined]
    assert plates["AB12CDE"] == 2
    assert "KL55MNO" in plates and "ZZ11AAA" not in plates  # the correction, not its OCR read


async def test_map_timeline_and_status_pages(user: User) -> None:
    await login(user, "/map")
    await user.should_see(marker="map")
    await user.open("/timeline")
    await user.should_see(marker="timeline-chart")
    await user.open("/status")
    await user.should_see(marker="status-prefect")
    await user.should_see(marker="status-storage")


async def test_wrong_password_then_rate_limit(user: User) -> None:
    await user.open("/")
    for _ in range(5):
        user.find(marker="username").clear().type(USERNAME)
        user.find(marker="password").clear().type("wrong password!")
        user.find(marker="login").click()
        await user.should_see("Wrong username or password.", retries=50)
        user.find(marker="login-message").elements.pop().set_text("")
    user.find(marker="password").clear().type(PASSWORD)
    user.find(marker="login").click()
    await user.should_see("Too many failed attempts", retries=50)


async def test_media_needs_login_and_known_ids(user: User, ids: dict[str, int]) -> None:
    http = user.http_client
    assert (await http.get(f"/media/{ids['video']}")).status_code == 401
    await login(user)
    r = await http.get(f"/media/{ids['video']}", headers={"Range": "bytes=100-199"})
    assert r.status_code == 206 and len(r.content) == 100
    assert r.headers["content-range"].startswith("bytes 100-199/")
    whole = await http.get(f"/media/{ids['video']}")
    assert whole.status_code == 200 and whole.content[100:200] == r.content
    assert whole.content[4:8] == b"ftyp"
    assert (await http.get(f"/media/{ids['video']}", headers={"Range": "bytes=99999999-"})).status_code == 416
    assert (await http.get("/media/999999")).status_code == 404
    assert (
        (await http.get(f"/download/{ids['crop']}")).headers["content-disposition"].startswith("attachment")
    )
    gpx = await http.get(f"/gpx/{ids['clip_front']}")
    assert gpx.status_code == 200 and b"<trkpt" in gpx.content


async def test_a_path_in_the_request_never_reaches_the_file_system(
    user: User, ids: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    from dashcam.storage import Area

    touched: list[str] = []
    for name in ("path", "open", "size", "exists", "open_regular"):
        real = getattr(Area, name)
        monkeypatch.setattr(
            Area, name, lambda self, key, _r=real, **kw: (touched.append(key), _r(self, key, **kw))[1]
        )
    await login(user)
    http = user.http_client
    for bad in (
        "/media/../../etc/passwd",
        "/media/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/media/ui%2Fclip-web.mp4",
        "/media/-1",
        "/media/1.5",
        "/media/1;/etc/passwd",
        "/download/..%2Fdashcam.db",
        "/gpx/%2Fetc%2Fpasswd",
    ):
        r = await http.get(bad)
        assert r.status_code in (404, 422), (bad, r.status_code)
    assert touched == []
    assert (await http.get(f"/media/{ids['crop']}")).status_code == 200
    assert touched and all(k == "ui/crop-1.jpg" for k in touched)


async def test_a_joined_sighting_says_so_and_a_user_splits_it(user: User, ids: dict[str, int]) -> None:
    from sqlmodel import Session, select

    from dashcam.db.models import Sighting, SightingTrack
    from webui import state

    sid = ids["far"]
    with Session(state.get().engine) as session:
        s = session.get(Sighting, sid)
        assert s is not None
        boxes = [[t, 100.0, 100.0, 220.0, 190.0, 0.7] for t in (1.0, 1.5, 2.0, 2.6, 3.0)]
        session.merge(SightingTrack(sighting_id=sid, boxes=boxes))
        s.merged_from, s.parts = 2, [[1.0, 2.0], [2.6, 3.0]]
        later = session.get(Sighting, ids["one_edit"])
        assert later is not None
        later.continues_id = sid  # the same vehicle in the next file
        session.add_all([s, later])
        session.commit()
    await login(user, f"/sighting/{sid}")
    await user.should_see("merged from 2 tracks")
    await user.should_see(marker="continues-in")
    user.find(marker="split").click()
    await user.should_see("Split into 2 sightings", retries=50)
    with Session(state.get().engine) as session:
        rows = session.exec(select(Sighting).where(Sighting.clip_id == ids["clip_front"])).all()
        spans = {r.id: (r.first_s, r.last_s) for r in rows}
        assert spans[sid] == (1.0, 2.0)
        (new,) = [i for i, span in spans.items() if span == (2.6, 3.0)]
        assert session.get(Sighting, ids["one_edit"]).continues_id == new  # type: ignore[union-attr]
        assert all(r.merged_from == 1 for r in rows)
    await user.open(f"/sighting/{sid}")
    await user.should_not_see("merged from")


async def test_a_watchlist_pattern_the_engine_refuses_gets_one_message(user: User) -> None:
    await login(user, "/plates")
    user.find(marker="watch-name").type("sneaky")
    user.find(marker="watch-pattern").type("(?=AB)AB12CDE")
    user.find(marker="watch-mode").elements.pop().set_value("pattern")
    user.find(marker="watch-add").click()
    await user.should_see("pattern refused: only (?: ) groups are allowed", retries=50)
    user.find(marker="watch-pattern").clear().type("A" * 65)
    user.find(marker="watch-add").click()
    await user.should_see("at most 64 are allowed", retries=50)
