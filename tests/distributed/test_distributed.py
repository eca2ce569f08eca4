"""The multi-device deployment, for real, on loopback: PostgreSQL, `prefect server start`, `dashcam setup`,
and five `prefect worker start --pool ...` processes (two for `gpu`) standing in for the devices
(the harness: :mod:`dashcam.testing.cluster`).

Clips fed to the ingest deployment reach the database through every stage, each on its own pool; a `gpu`
worker killed with SIGKILL in the middle of a clip ends with that clip processed exactly once (the same
rows as a clean run of the same frames); re-sending the same clips changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from dashcam.db.models import Clip, Sighting
from dashcam.testing import cluster
from dashcam.testing.cluster import DEVICES, STAGE_POOL, Cluster
from tests.camera.fake_camera import mp4_variant
from tests.support import models_dir, testdata_file

pytestmark = pytest.mark.slow


def wait_for(what: str, check: Callable[[], Any], timeout: float, every: float = 0.5) -> Any:
    try:
        return cluster.wait_for(what, check, timeout, every)
    except TimeoutError as exc:
        pytest.fail(str(exc))


@pytest.fixture
def deployment(tmp_path: Path, postgres_url: str) -> Iterator[Cluster]:
    d = Cluster(tmp_path, postgres_url, models_dir=models_dir())
    try:
        yield d
    finally:
        d.stop()
        print(d.log_tails())  # shown by pytest only when the test failed


def _sightings(d: Cluster, clip_id: int) -> list[tuple[Any, ...]]:
    with d.engine.connect() as c:
        rows = c.execute(
            select(Sighting.track_id, Sighting.label, Sighting.first_s, Sighting.last_s, Sighting.frames)
            .where(Sighting.clip_id == clip_id)
            .order_by(Sighting.track_id)
        ).all()
    return [tuple(r) for r in rows]


def test_pipeline_across_pools_survives_a_killed_gpu_worker(deployment: Cluster, tmp_path: Path) -> None:
    d = deployment
    d.server()
    d.upgrade_db()
    out = d.setup(heartbeat_s=30, zombie_after_s=90)
    assert "work pool gpu: created" in out
    again = d.setup("--no-deploy", heartbeat_s=30, zombie_after_s=90)
    assert "created" not in again and "updated" not in again  # idempotent
    d.workers()

    lanes = testdata_file("video/lanes/solidWhiteRight.mp4").read_bytes()
    card = tmp_path / "card"
    card.mkdir()
    (card / "2023_0815_120000_000101F.MP4").write_bytes(
        testdata_file("video/highway/test_video.mp4").read_bytes()
    )
    (card / "2023_0815_120100_000102F.MP4").write_bytes(lanes)
    d.run_deployment("ingest/ingest", folder=str(card), chain=True, stable_check_s=0)
    wait_for("both clips through every stage", lambda: d.archived() >= 2, timeout=360, every=2)

    runs = d.stage_runs()
    for stages in runs.values():
        for stage, run in stages.items():
            assert DEVICES[run.device] == STAGE_POOL[stage], f"{stage} ran on {run.device}"
            assert run.attempts == 1
    with d.engine.connect() as c:
        clips = {r.file_name: r.id for r in c.execute(select(Clip.file_name, Clip.id))}
    clean = _sightings(d, clips["2023_0815_120100_000102F.MP4"])
    assert clean, "the lanes clip has cars"

    # the same frames again (a different file), and a gpu worker dies in the middle of it
    card2 = tmp_path / "card2"
    card2.mkdir()
    (card2 / "2023_0815_120200_000103F.MP4").write_bytes(mp4_variant(lanes, "again"))
    d.run_deployment("ingest/ingest", folder=str(card2), chain=True, stable_check_s=0)

    def heavy_running() -> tuple[str, str] | None:
        for stages in d.stage_runs().values():
            run = stages.get("heavy")
            if run is not None and run.status == "running" and run.clip_id not in clips.values():
                return run.device, run.flow_run_id
        return None

    victim, dead_run = wait_for(
        "the heavy stage to start on the new clip", heavy_running, timeout=240, every=0.5
    )
    d.kill(f"worker-{victim}")
    # its lease runs out (8 s); the reconcile sweep, repeated until then, hands the clip to the other gpu worker

    def recovered() -> bool:
        d.run_deployment("reconcile/reconcile", grace_s=600)
        return d.archived(allow_crashed=None) >= 3

    wait_for("the clip to be finished by the other gpu worker", recovered, timeout=240, every=10)
    runs = d.stage_runs()
    new_id = next(c for c in runs if c not in clips.values())
    heavy = runs[new_id]["heavy"]
    assert heavy.status == "done" and heavy.device != victim and heavy.attempts == 2
    assert _sightings(d, new_id) == clean  # exactly once: the same rows as the clean run

    # Prefect's side of the power loss: the dead run's heartbeats stopped, and the automation that
    # `dashcam setup` made marks it Crashed (90 s without one here) instead of leaving it Running forever
    def dead_run_state() -> dict[str, Any] | None:
        state = d.api_get(f"/flow_runs/{dead_run}")["state"]
        return state if state and state["type"] == "CRASHED" else None

    crashed = wait_for(
        "the heartbeat automation to mark the dead run crashed", dead_run_state, timeout=300, every=5
    )
    assert "no heartbeat" in (crashed["message"] or "")

    # re-sending the same clips changes nothing
    before = {c: {s: (r.attempts, r.status) for s, r in st.items()} for c, st in d.stage_runs().items()}
    d.run_deployment("ingest/ingest", folder=str(card), chain=True, stable_check_s=0)

    def ingest_settled() -> bool:
        query = {
            "flows": {"name": {"any_": ["ingest"]}},
            "flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}},
        }
        return int(httpx.post(f"{d.api}/flow_runs/count", json=query, timeout=10).json()) >= 3

    wait_for("the repeated ingest to finish", ingest_settled, timeout=120, every=2)
    after = {c: {s: (r.attempts, r.status) for s, r in st.items()} for c, st in d.stage_runs().items()}
    assert after == before
    with d.engine.connect() as c:
        assert c.execute(select(Clip.id)).all().__len__() == 3
