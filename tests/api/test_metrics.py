"""GET /metrics over real HTTP: the seeded pipeline in Prometheus's format, and who may read it."""

from __future__ import annotations

from datetime import datetime, timezone

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

from tests.api.conftest import CONFIGURED, ApiServer


def _samples(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(body):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _get(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def test_metrics_describe_the_pipeline_to_this_host(api: ApiServer) -> None:
    with api.client() as c:
        r = c.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    m = _samples(r.text)
    # the seeded stage_run rows: front clip ingest done (5 s), preprocess done (60 s), heavy failed;
    # rear clip ingest running, preprocess queued
    assert _get(m, "dashcam_clips", stage="ingest", state="done") == 1
    assert _get(m, "dashcam_clips", stage="ingest", state="running") == 1
    assert _get(m, "dashcam_clips", stage="preprocess", state="queued") == 1
    assert _get(m, "dashcam_clips", stage="heavy", state="failed") == 1
    assert _get(m, "dashcam_clips", stage="archive", state="done") == 0  # present, so rules see a zero
    assert _get(m, "dashcam_stage_duration_seconds_bucket", stage="preprocess", le="30.0") == 0
    assert _get(m, "dashcam_stage_duration_seconds_bucket", stage="preprocess", le="60.0") == 1
    assert _get(m, "dashcam_stage_duration_seconds_count", stage="preprocess") == 1
    assert _get(m, "dashcam_stage_duration_seconds_sum", stage="ingest") == 5.0
    assert ("dashcam_stage_duration_seconds_count", (("stage", "heavy"),)) not in m  # failed runs: no time

    engine = create_engine(api.db_url)
    with engine.connect() as c:
        by_label = dict(c.execute(text("SELECT label, count(*) FROM sighting GROUP BY label")).all())
        reads = c.execute(text("SELECT count(*) FROM plate_read")).scalar_one()
        clips = c.execute(text("SELECT count(*) FROM clip")).scalar_one()
        beats = dict(c.execute(text("SELECT hostname, last_heartbeat_at FROM device")).all())
    engine.dispose()
    assert by_label and {k: _get(m, "dashcam_sightings", label=k) for k in by_label} == by_label
    assert _get(m, "dashcam_plate_reads") == reads and _get(m, "dashcam_clips_registered") == clips
    assert _get(m, "dashcam_device_configured", device=CONFIGURED) == 1
    for host, at in beats.items():
        if at is None:
            continue
        at = datetime.fromisoformat(str(at)).replace(tzinfo=timezone.utc)
        typed = [v for (n, labels), v in m.items() if n.endswith("last_heartbeat_timestamp_seconds")
                 and ("device", host) in labels]  # fmt: skip
        assert typed and abs(typed[0] - at.timestamp()) < 1
    there = [
        a
        for a in ("raw", "preproc", "heavy_output", "archive")
        if _get(m, "dashcam_storage_available", area=a)
    ]
    assert there  # the seeded media's areas; an area with no folder yet has no size (not a guess)
    for area in there:
        assert (
            _get(m, "dashcam_storage_size_bytes", area=area)
            >= _get(m, "dashcam_storage_free_bytes", area=area)
            > 0
        )
    assert not [n for n, _ in m if n.startswith(("dashcam_prefect", "dashcam_work_pool"))]  # no Prefect here
    assert _get(m, "dashcam_build_info", version="0.1.0") == 1
    with api.client(api.tokens["user"]) as c:
        assert "/metrics" not in c.get("/api/v1/openapi.json").json()["paths"]


def test_metrics_need_a_key_unless_asked_from_this_host(api: ApiServer) -> None:
    # 127.0.0.9: the failed tries count against that address only, not the other tests' 127.0.0.1
    proxied = [{"X-Forwarded-For": "192.0.2.7"}, {"Forwarded": "for=192.0.2.7"}, {"X-Real-IP": "192.0.2.7"}]
    with api.client(source="127.0.0.9") as c:
        for headers in proxied:  # through nginx: never local, whatever the peer address
            r = c.get("/metrics", headers=headers)
            assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", headers
            assert "dashcam_clips" not in r.text
        bad = {
            "revoked": f"Bearer {api.revoked_key}",
            "unknown": "Bearer dk_000000000000_" + "x" * 43,
            "not a key": "Bearer hello",
            "a user's JWT": f"Bearer {api.tokens['user']}",
            "basic": "Basic YWxpY2U6cGFzc3dvcmQ=",
            "no key": "Bearer",
        }
        for name, value in bad.items():
            r = c.get("/metrics", headers={"Authorization": value})
            assert r.status_code == 401, name  # a wrong key is wrong from this host too
        r = c.get("/metrics", headers={"Authorization": f"Bearer {api.device_key}", **proxied[0]})
        assert r.status_code == 200 and "dashcam_clips{" in r.text
    engine = create_engine(api.db_url)
    with engine.connect() as c:
        recorded = c.execute(
            text(
                "SELECT count(*), sum(CASE WHEN ok THEN 1 ELSE 0 END) FROM ui_login_attempt WHERE remote = :r"
            ),
            {"r": "127.0.0.9"},
        ).one()
    engine.dispose()
    assert (
        recorded[0] == 4 and not recorded[1]
    )  # failed keys are throttled like logins; good scrapes write nothing
