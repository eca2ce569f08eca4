"""The REST API over real HTTP: each endpoint, token refusals, heartbeats and online/offline, pagination."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import jwt
import pytest
from sqlalchemy import create_engine, text

from tests.api.conftest import CONFIGURED, DEVICE, SECRET, ApiServer
from webui.api.security import signing_key

READ_PATHS = ["/api/v1/tasks", "/api/v1/devices", "/api/v1/clips", "/api/v1/search", "/api/v1/plates/AB12CDE"]
BEAT = {"hostname": DEVICE, "device_type": "jetson_coral"}


def _token(claims: dict[str, object], key: bytes | str | None = None) -> str:
    now = int(time.time())
    base = {"sub": "user:alice", "scope": "read", "iat": now, "exp": now + 600, "uid": 1, "gen": 0}
    if key is None:
        import os

        os.environ["DASHCAM_SECRET_KEY"] = SECRET  # the server's secret, to sign like the server does
        key = signing_key()
    return jwt.encode({**base, **claims}, key, algorithm="HS256")


# ---------------------------------------------------------------- auth


@pytest.mark.parametrize("path", READ_PATHS)
def test_reads_refuse_a_missing_token_with_401_json(api: ApiServer, path: str) -> None:
    with api.client() as c:
        r = c.get(path, follow_redirects=False)
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/json")
    assert r.headers["www-authenticate"] == "Bearer"


def test_forged_expired_and_malformed_tokens_are_refused(api: ApiServer) -> None:
    cases = {
        "forged": _token({}, key=b"x" * 32),
        "raw secret": _token({}, key=SECRET),  # the secret itself is not the signing key
        "expired": _token({"iat": int(time.time()) - 7200, "exp": int(time.time()) - 10}),
        "no exp": jwt.encode({"sub": "user:alice", "scope": "read", "iat": 1}, signing_key()),
        "bad scope": _token({"scope": "admin"}),
        "user with heartbeat scope": _token({"scope": "heartbeat"}),
        "none alg": jwt.encode({"sub": "user:alice", "scope": "read", "exp": 2**40, "iat": 1}, None, "none"),
        "garbage": "not-a-jwt",
        # well signed, but nobody: a user that never existed, a name that is not the id's, no account id
        "never existed": _token({"sub": "user:mallory", "uid": 999}),
        "another's id": _token({"sub": "user:mallory", "uid": 1}),
        "old generation": _token({"gen": -1}),
        "no account id": _token({"uid": None}),
        "device without key": _token({"sub": "device:jetson-coral-1", "scope": "heartbeat"}),
    }
    for name, token in cases.items():
        with api.client(token) as c:
            r = c.get("/api/v1/tasks")
        assert r.status_code == 401, name
    with api.client(_token({})) as c:  # the control: a well-signed, fresh token works
        assert c.get("/api/v1/tasks").status_code == 200


def test_token_endpoint(api: ApiServer) -> None:
    with api.client() as c:
        assert c.post("/api/v1/auth/token", json={"api_key": api.revoked_key}).status_code == 401
        assert c.post("/api/v1/auth/token", json={"api_key": "dk_nope_nope"}).status_code == 401
        assert c.post("/api/v1/auth/token", json={}).status_code == 422
        both = {"username": "alice", "password": "x" * 10, "api_key": api.device_key}
        assert c.post("/api/v1/auth/token", json=both).status_code == 422
        r = c.post("/api/v1/auth/token", json={"api_key": api.device_key})
    assert r.status_code == 200
    body = r.json()
    assert body["scope"] == "heartbeat" and body["token_type"] == "bearer" and body["expires_in"] == 3600
    claims = jwt.decode(body["access_token"], signing_key(), algorithms=["HS256"])
    assert claims["sub"] == f"device:{DEVICE}" and claims["exp"] - claims["iat"] == 3600


def test_scopes_keep_users_and_devices_apart(api: ApiServer, user: object, device: object) -> None:
    for path in READ_PATHS:
        assert device.get(path).status_code == 403, path  # type: ignore[attr-defined]
    assert user.post("/api/v1/devices/heartbeat", json=BEAT).status_code == 403  # type: ignore[attr-defined]
    other = {**BEAT, "hostname": "someone-else"}
    r = device.post("/api/v1/devices/heartbeat", json=other)  # type: ignore[attr-defined]
    assert r.status_code == 403 and "someone-else" in r.json()["detail"]


def test_the_ui_login_does_not_cover_the_api_but_still_covers_pages(api: ApiServer) -> None:
    with api.client() as c:
        assert c.get("/search", follow_redirects=False).status_code in (302, 303, 307)
        assert c.get("/api/v1/docs").status_code == 200
        schema = c.get("/api/v1/openapi.json").json()
    assert {"/api/v1/tasks", "/api/v1/devices/heartbeat", "/api/v1/plates/{text}"} <= set(schema["paths"])


# ---------------------------------------------------------------- devices


def _set_heartbeat(api: ApiServer, when: datetime) -> None:
    """Move the stored heartbeat (what time passing does), instead of waiting."""
    engine = create_engine(api.db_url)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE device SET last_heartbeat_at = :t WHERE hostname = :h"),
            {"t": when.replace(tzinfo=None), "h": DEVICE},
        )
    engine.dispose()


def _devices(user: object) -> dict[str, dict[str, object]]:
    r = user.get("/api/v1/devices")  # type: ignore[attr-defined]
    assert r.status_code == 200
    return {d["hostname"]: d for d in r.json()["items"]}


def test_heartbeat_makes_a_device_online_and_silence_offline(
    api: ApiServer, user: object, device: object
) -> None:
    beat = {**BEAT, "version": "1.2.3", "free_scratch_bytes": 12345, "accelerator": True}
    r = device.post("/api/v1/devices/heartbeat", json=beat)  # type: ignore[attr-defined]
    assert r.status_code == 200, r.text
    assert r.json()["online"] is True and r.json()["work_pool"] == "edge"
    found = _devices(user)
    d = found[DEVICE]
    assert d["online"] is True and d["version"] == "1.2.3" and d["free_scratch_bytes"] == 12345
    assert d["accelerator"] is True and d["work_pool"] == "edge" and d["configured"] is False
    assert found[CONFIGURED]["online"] is False and found[CONFIGURED]["last_heartbeat_at"] is None
    assert found[CONFIGURED]["work_pool"] == "gpu" and found[CONFIGURED]["configured"] is True

    within = user.get("/api/v1/devices").json()["online_within_s"]  # type: ignore[attr-defined]
    assert within == 180
    now = datetime.now(timezone.utc)
    _set_heartbeat(api, now - timedelta(seconds=within - 30))
    assert _devices(user)[DEVICE]["online"] is True
    _set_heartbeat(api, now - timedelta(seconds=within + 1))
    assert _devices(user)[DEVICE]["online"] is False
    assert device.post("/api/v1/devices/heartbeat", json=BEAT).status_code == 200  # type: ignore[attr-defined]
    assert _devices(user)[DEVICE]["online"] is True


def test_devices_say_when_prefect_is_not_there(user: object) -> None:
    body = user.get("/api/v1/devices").json()  # type: ignore[attr-defined]
    assert body["prefect"] == {
        "configured": False,
        "available": False,
        "api_url": None,
        "error": "no Prefect server configured (embedded mode)",
    }
    assert all(d["workers"] is None for d in body["items"])


def test_heartbeat_validation(device: object) -> None:
    bad = [{"hostname": DEVICE}, {**BEAT, "device_type": "toaster"}, {**BEAT, "free_scratch_bytes": -1}]
    for body in bad:
        assert device.post("/api/v1/devices/heartbeat", json=body).status_code == 422, body  # type: ignore[attr-defined]


# ---------------------------------------------------------------- tasks


def test_tasks_list_filters_and_pages(api: ApiServer, user: object) -> None:
    body = user.get("/api/v1/tasks").json()  # type: ignore[attr-defined]
    assert body["total"] == 5 and len(body["items"]) == 5
    assert body["prefect"]["available"] is False and body["prefect"]["error"]
    failed = user.get("/api/v1/tasks", params={"status": "failed"}).json()  # type: ignore[attr-defined]
    assert failed["total"] == 1
    row = failed["items"][0]
    assert row["stage"] == "heavy" and row["error"] == "CUDA out of memory"
    assert row["attempts"] == 3 and row["retries"] == 2 and row["device"] == CONFIGURED
    assert row["file_name"].endswith("F.MP4")
    by_stage = user.get("/api/v1/tasks", params={"stage": "ingest"}).json()  # type: ignore[attr-defined]
    assert {t["status"] for t in by_stage["items"]} == {"done", "running"}
    by_device = user.get("/api/v1/tasks", params={"device": DEVICE}).json()  # type: ignore[attr-defined]
    assert [t["flow_run_id"] for t in by_device["items"]] == [api.flow_run_id]
    timed = user.get(  # type: ignore[attr-defined]
        "/api/v1/tasks", params={"since": "2024-05-01T12:02:30Z", "until": "2024-05-02T00:00:00+02:00"}
    ).json()
    assert [t["stage"] for t in timed["items"]] == ["heavy"]
    seen = []
    for offset in (0, 2, 4):
        page = user.get("/api/v1/tasks", params={"limit": 2, "offset": offset}).json()  # type: ignore[attr-defined]
        assert page["total"] == 5 and page["limit"] == 2 and page["offset"] == offset
        seen += [t["id"] for t in page["items"]]
    assert len(seen) == len(set(seen)) == 5
    assert user.get("/api/v1/tasks", params={"limit": 0}).status_code == 422  # type: ignore[attr-defined]
    assert user.get("/api/v1/tasks", params={"status": "bogus"}).status_code == 422  # type: ignore[attr-defined]


# ---------------------------------------------------------------- clips, search, plates


def test_clips_and_one_clip_with_its_track(api: ApiServer, user: object) -> None:
    page = user.get("/api/v1/clips").json()  # type: ignore[attr-defined]
    assert page["total"] == 2 and [c["id"] for c in page["items"]] == [
        api.ids["clip_rear"],
        api.ids["clip_front"],
    ]
    assert user.get("/api/v1/clips", params={"channel": "F"}).json()["total"] == 1  # type: ignore[attr-defined]
    assert user.get("/api/v1/clips", params={"limit": 1, "offset": 1}).json()["items"][0]["channel"] == "F"  # type: ignore[attr-defined]
    clip = user.get(f"/api/v1/clips/{api.ids['clip_front']}").json()  # type: ignore[attr-defined]
    assert len(clip["track"]) == 60 and clip["track"][0]["lat"] == pytest.approx(48.137)
    assert {s["stage"] for s in clip["stages"]} == {"ingest", "preprocess", "heavy"}
    assert clip["sightings"] == 5
    r = user.get("/api/v1/clips/999999")  # type: ignore[attr-defined]
    assert r.status_code == 404 and r.json() == {"detail": "no clip 999999"}


def test_search_is_the_shared_query(api: ApiServer, user: object) -> None:
    from dashcam.db.session import get_engine, session_scope
    from dashcam.search import SearchQuery, search

    r = user.get("/api/v1/search", params={"plate": "ab12-cde", "fuzzy": 1})  # type: ignore[attr-defined]
    assert r.status_code == 200
    hits = [h["sighting_id"] for h in r.json()["hits"]]
    with session_scope(get_engine(url=api.db_url)) as session:
        direct = search(session=session, query=SearchQuery(plate="ab12-cde", fuzzy=1))
    assert hits == [h.sighting_id for h in direct.hits] and hits[0] == api.ids["exact_hi"]
    near = user.get(  # type: ignore[attr-defined]
        "/api/v1/search", params={"near_lat": 52.52, "near_lon": 13.405, "near_m": 1000}
    ).json()
    assert {h["sighting_id"] for h in near["hits"]} == {
        api.ids["one_edit"],
        api.ids["two_edits"],
        api.ids["far"],
    }
    assert user.get("/api/v1/search", params={"near_lat": 1}).status_code == 422  # type: ignore[attr-defined]
    assert user.get("/api/v1/search", params={"plate": "--"}).status_code == 422  # type: ignore[attr-defined]
    assert user.get("/api/v1/search", params={"plate_pattern": "("}).status_code == 422  # type: ignore[attr-defined]


def test_plate(api: ApiServer, user: object) -> None:
    body = user.get("/api/v1/plates/ab12 cde").json()  # type: ignore[attr-defined]
    assert body["plate"] == "AB12CDE" and body["summary"]["sightings"] == 2
    assert {h["sighting_id"] for h in body["sightings"]["hits"]} >= {api.ids["exact_hi"], api.ids["exact_lo"]}
    assert user.get("/api/v1/plates/QQ00QQQ").status_code == 404  # type: ignore[attr-defined]
    assert user.get("/api/v1/plates/%20-").status_code == 422  # type: ignore[attr-defined]


def test_split_undoes_a_join_and_says_why_it_cannot(api: ApiServer, user: object, device: object) -> None:
    import json

    boxes = [[t, 100.0, 100.0, 200.0, 180.0, 0.6] for t in (1.0, 2.0, 7.0, 9.0)]
    eng = create_engine(api.db_url)
    try:
        with eng.begin() as c:
            sid = c.execute(
                text(
                    "INSERT INTO sighting (clip_id, track_id, label, score, first_s, last_s, best_s, "
                    "frames, merged_from, parts) VALUES (:clip, 900, 'bus', 0.6, 1, 9, 2, 4, 2, :parts) "
                    "RETURNING id"
                ),
                {"clip": api.ids["clip_rear"], "parts": json.dumps([[1, 2], [7, 9]])},
            ).scalar_one()
            c.execute(
                text("INSERT INTO sighting_track (sighting_id, boxes) VALUES (:sid, :boxes)"),
                {"sid": sid, "boxes": json.dumps(boxes)},
            )
        assert device.post(f"/api/v1/sightings/{sid}/split").status_code == 403  # type: ignore[attr-defined]
        with api.client() as anon:
            assert anon.post(f"/api/v1/sightings/{sid}/split").status_code == 401
        r = user.post(f"/api/v1/sightings/{sid}/split")  # type: ignore[attr-defined]
        assert r.status_code == 200, r.text
        first, second = r.json()["sightings"]
        assert first == sid
        with eng.connect() as c:
            rows = c.execute(
                text(
                    "SELECT id, first_s, last_s, merged_from FROM sighting WHERE id IN (:a, :b) ORDER BY id"
                ),
                {"a": first, "b": second},
            ).all()
        assert [(row[1], row[2], row[3]) for row in rows] == [(1.0, 2.0, 1), (7.0, 9.0, 1)]
        again = user.post(f"/api/v1/sightings/{sid}/split")  # type: ignore[attr-defined]
        assert again.status_code == 409 and "one track" in again.json()["detail"]
        assert user.post("/api/v1/sightings/999999/split").status_code == 404  # type: ignore[attr-defined]
    finally:
        with eng.begin() as c:  # the other tests count the seeded sightings
            c.execute(text("DELETE FROM sighting WHERE track_id >= 900"))
        eng.dispose()
