"""Being told, in a real deployment on loopback (PostgreSQL, `prefect server start`, process workers): a clip
with a watchlist plate goes through, and the Prefect API shows the heavy run's table of sightings with a
link to each, the `dashcam.watchlist.hit` event, and the notification the automation of
`dashcam setup --notify-block` sends, received by a real webhook server."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from dashcam.db.models import Sighting, WatchlistEntry, utcnow
from dashcam.testing import cluster
from dashcam.testing.cluster import Cluster
from tests.support import models_dir
from tests.webhook import Webhook

pytestmark = pytest.mark.slow
PUBLIC = "https://dashcam.home.example"
SHOTS_ENV = "DASHCAM_SCREENSHOTS_DIR"


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.stop()


@pytest.fixture
def deployment(tmp_path: Path, postgres_url: str) -> Iterator[Cluster]:
    config = {
        "webui": {"public_url": PUBLIC},
        # the harness leaves plates out for speed: this test is about a plate
        "vision": {"plate_detector": {"type": "onnxruntime", "model": "license_plate_detector_int8.onnx"}},
    }
    # the Prefect UI only where a screenshot of it is asked for (DASHCAM_SCREENSHOTS_DIR)
    env = {"PREFECT_UI_ENABLED": "true"} if os.environ.get(SHOTS_ENV) else None
    d = Cluster(tmp_path, postgres_url, models_dir=models_dir(), config=config, env=env)
    try:
        yield d
    finally:
        d.stop()
        print(d.log_tails())


def _save_webhook_block(d: Cluster, url: str) -> None:
    code = (
        "import sys\nfrom prefect.blocks.notifications import CustomWebhookNotificationBlock\n"
        "CustomWebhookNotificationBlock(name='test-hook', url=sys.argv[1], method='POST',\n"
        "    json_data={'subject': '{{subject}}', 'body': '{{body}}'}).save('test-hook', overwrite=True)\n"
    )
    import subprocess
    import sys

    subprocess.run([sys.executable, "-c", code, url], env=d.env, check=True, timeout=120)


def test_a_watchlist_plate_is_told_through_prefect(
    deployment: Cluster, webhook: Webhook, tmp_path: Path
) -> None:
    from dashcam.synth import synthesize

    d = deployment
    d.server()
    d.upgrade_db()
    _save_webhook_block(d, webhook.url)
    out = d.setup("--notify-block", "custom-webhook/test-hook")
    assert (
        "automation 'dashcam-watchlist-notify' (dashcam.watchlist.hit -> custom-webhook/test-hook): created"
        in out
    )
    with d.engine.begin() as c:  # the plate is on the watchlist, within one edit (an OCR slip still counts)
        c.execute(
            WatchlistEntry.__table__.insert().values(  # type: ignore[attr-defined]
                name="stolen van", pattern="AB12CDE", mode="edits", max_edits=1, created_at=utcnow()
            )
        )
    d.workers()
    card = tmp_path / "card"
    synthesize(card, seconds=14, fps=15, size=(1280, 720), plates=["AB12CDE"], seed=3, viofo_name=True)
    for p in card.glob("*.truth.json"):
        p.unlink()
    d.run_deployment("ingest/ingest", folder=str(card), chain=True, stable_check_s=0)
    cluster.wait_for("the clip through every stage", lambda: d.archived() >= 1, timeout=360, every=2)

    with d.engine.connect() as c:
        hits = c.execute(
            select(Sighting.id, Sighting.plate_text).where(Sighting.plate_text.is_not(None))
        ).all()  # type: ignore[union-attr]
    near = [
        (sid, plate)
        for sid, plate in hits
        if sum(a != b for a, b in zip(plate, "AB12CDE", strict=False)) <= 1
    ]
    assert near, f"the plate was not read: {hits}"
    sid, plate = near[0]

    # the heavy run's table of sightings, each with its link to the web UI
    arts = d.api_all("/artifacts/filter", {"artifacts": {"key": {"like_": "sightings-clip-"}}})
    rows = [row for a in arts if a["type"] == "table" for row in json.loads(a["data"])]
    assert f"{PUBLIC}/sighting/{sid}" in [r["link"] for r in rows]

    # the event, with the plate as its resource and the clip and sighting beside it
    events = d.api_post("/events/filter", {"filter": {"event": {"name": ["dashcam.watchlist.hit"]}}})[
        "events"
    ]
    (event,) = [e for e in events if e["resource"]["prefect.resource.id"] == f"dashcam.plate.{plate}"]
    related = {r["prefect.resource.role"]: r["prefect.resource.id"] for r in event["related"]}
    assert related["sighting"] == f"dashcam.sighting.{sid}" and related["clip"].startswith("dashcam.clip.")
    assert event["payload"]["watchlist"] == ["stolen van"]

    # and the automation told the webhook
    assert webhook.arrived.wait(120), "no notification reached the webhook"
    (msg,) = [m for m in webhook.received if plate in m.get("subject", "")]
    assert "stolen van" in msg["body"] and f"{PUBLIC}/sighting/{sid}" in msg["body"]

    if shots := os.environ.get(SHOTS_ENV):  # the README's picture of the artifact in the Prefect UI
        (art,) = [
            a for a in arts if any(r["link"].endswith(f"/sighting/{sid}") for r in json.loads(a["data"]))
        ]
        _screenshot(d.api.removesuffix("/api") + f"/artifacts/artifact/{art['id']}", Path(shots))


def _screenshot(url: str, shots: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.webui.live import chromium

    with chromium() as driver:
        driver.get(url)
        WebDriverWait(driver, 60).until(ec.presence_of_element_located((By.CSS_SELECTOR, "table")))
        time.sleep(1.0)  # the page's fonts and layout settle for the picture (not a synchronisation)
        driver.save_screenshot(str(shots / "prefect-artifact.png"))
