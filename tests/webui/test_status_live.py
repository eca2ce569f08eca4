"""The Status page against a real Prefect server (the session's ``prefect_test_harness`` subprocess).

A work pool with one worker heartbeating, a running flow run and a failed one with a known message are
created through the Prefect client; clips waiting per stage are stage_run rows in the page's database.
Both the page's data path (``read_status``, ``stage_counts``) and the rendered page are checked. The
server is shared with other tests, so everything here carries a name of its own and the assertions look
for those names rather than for exact totals.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from nicegui.testing import User
from sqlmodel import Session

from dashcam.db.models import StageRun
from tests.webui.test_pages import login
from webui.pages.status import stage_counts
from webui.prefect_status import read_status

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

STAGES = [  # (clip, stage, status): what the stages table must count
    ("clip_front", "ingest", "done"),
    ("clip_rear", "ingest", "done"),
    ("clip_front", "preprocess", "done"),
    ("clip_rear", "preprocess", "queued"),
    ("clip_front", "heavy", "queued"),
    ("clip_rear", "heavy", "failed"),
]
EXPECTED_COUNTS = {
    "ingest": {"done": 2},
    "preprocess": {"done": 1, "queued": 1},
    "heavy": {"queued": 1, "failed": 1},
}


@dataclass
class LivePrefect:
    api_url: str
    flow: str
    pool: str
    worker: str
    failed_run: str
    failed_id: str
    running_run: str
    late_run: str
    reason: str


async def _populate(tag: str) -> LivePrefect:
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.settings import PREFECT_API_URL
    from prefect.states import Failed, Late, Running

    @flow(name=f"status-live-{tag}")
    def status_probe() -> None:  # never runs: only its runs' states matter
        return None

    live = LivePrefect(
        api_url=str(PREFECT_API_URL.value()),
        flow=f"status-live-{tag}",
        pool=f"pool-{tag}",
        worker=f"worker-{tag}",
        failed_run=f"failed-{tag}",
        failed_id="",
        running_run=f"running-{tag}",
        late_run=f"late-{tag}",
        reason=f"heavy stage crashed on clip {tag}: CUDA out of memory",
    )
    async with get_client() as client:
        await client.create_work_pool(WorkPoolCreate(name=live.pool, type="process"))
        await client.send_worker_heartbeat(live.pool, live.worker, heartbeat_interval_seconds=30)
        failed = await client.create_flow_run(
            status_probe, name=live.failed_run, state=Failed(message=live.reason)
        )
        await client.create_flow_run(status_probe, name=live.running_run, state=Running())
        # what the server's late-runs service makes of a scheduled run nobody picked up
        await client.create_flow_run(
            status_probe,
            name=live.late_run,
            state=Late(scheduled_time=datetime.now(timezone.utc) - timedelta(minutes=5)),
        )
        live.failed_id = str(failed.id)
        # the server's orchestration may reject or rewrite a state: check what it kept
        kept = await client.read_flow_run(failed.id)
        assert kept.state is not None and kept.state.name == "Failed", kept.state
        assert kept.state.message == live.reason
    return live


@pytest.fixture
def live_prefect(
    prefect_harness: None, webui_env: tuple[Path, dict[str, int]], monkeypatch: pytest.MonkeyPatch
) -> Iterator[LivePrefect]:
    """Pool, worker and runs on the harness server; the web UI pointed at it; stage rows in its database."""
    from dashcam.config import load_config
    from dashcam.db.session import get_engine, session_scope

    live = asyncio.run(_populate(uuid.uuid4().hex[:10]))
    monkeypatch.setenv("PREFECT_API_URL", live.api_url)  # what webui.state reads (webui_env cleared it)
    _, ids = webui_env
    engine = get_engine(url=load_config().database_url())
    now = datetime.now(timezone.utc)
    with session_scope(engine) as session:
        for clip, stage, status in STAGES:
            session.add(StageRun(clip_id=ids[clip], stage=stage, version="1", status=status, started_at=now))
    yield live


def test_read_status_sees_pool_worker_and_runs(live_prefect: LivePrefect) -> None:
    st = read_status(live_prefect.api_url)  # the API answers with what it committed: no waiting
    assert st.ok, st.error
    pools = {name: (kind, online, total) for name, kind, online, total in st.pools}
    assert pools[live_prefect.pool] == ("process", 1, 1)
    failed = {r.name: r for r in st.late_or_failed}
    assert live_prefect.failed_run in failed, [r.name for r in st.late_or_failed]
    run = failed[live_prefect.failed_run]
    assert run.state == "Failed"
    assert run.reason == live_prefect.reason
    assert run.id == live_prefect.failed_id
    assert run.flow == live_prefect.flow
    assert run.when is not None
    assert failed[live_prefect.late_run].state == "Late"
    running = {r.name: r for r in st.in_flight}
    assert running[live_prefect.running_run].state == "Running"
    assert live_prefect.running_run not in failed and live_prefect.failed_run not in running


def test_stage_counts_are_clips_per_stage(live_prefect: LivePrefect) -> None:
    from dashcam.config import load_config
    from dashcam.db.session import get_engine

    with Session(get_engine(url=load_config().database_url())) as session:
        assert stage_counts(session=session) == EXPECTED_COUNTS


def test_read_status_reports_an_unreachable_server() -> None:
    st = read_status("http://127.0.0.1:9/api")  # discard port: nothing listens
    assert not st.ok and st.error and "127.0.0.1:9" in st.error


async def test_status_page_shows_the_live_server(live_prefect: LivePrefect, user: User) -> None:
    await login(user, "/status")
    await user.should_see(marker="status-prefect")
    await user.should_see(live_prefect.pool, retries=100)
    await user.should_see("process · 1/1 workers online", retries=50)
    await user.should_see(live_prefect.failed_run, retries=50)
    await user.should_see(live_prefect.reason, retries=50)
    await user.should_see(live_prefect.running_run, retries=50)
    await user.should_see(live_prefect.late_run, retries=50)
    await user.should_not_see(marker="prefect-error")
    table = user.find(marker="stage-counts").elements.pop()
    rows = {r["stage"]: r for r in table.rows}  # type: ignore[attr-defined]
    assert set(rows) == set(EXPECTED_COUNTS)
    for stage, counts in EXPECTED_COUNTS.items():
        for status in ("queued", "running", "done", "failed", "skipped"):
            assert rows[stage][status] == counts.get(status, 0), (stage, status, rows[stage])
