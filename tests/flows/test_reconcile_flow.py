"""The reconcile sweep under a real (test) Prefect server: a clip whose chained run is only waiting in a
busy pool's queue is left alone; one whose run ended without doing the stage is started again, once."""

from __future__ import annotations

import shutil
from pathlib import Path

from prefect import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName
from prefect.states import Crashed

from dashcam.stages.context import StageContext
from dashcam.stages.ingest.record import register_file
from tests.support import testdata_file


def _runs_of(name: str) -> list[str]:
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[name]))
        )
    return sorted(str(r.id) for r in runs)


def test_a_queued_clip_is_not_started_twice(
    pipeline_env: Path, prefect_harness: None, tmp_path: Path
) -> None:
    from flows.common import chain_key, trigger
    from flows.preprocess import preprocess
    from flows.reconcile import reconcile

    # the preprocess deployment, with no worker to take its runs: they stay scheduled, as in a busy pool
    preprocess.to_deployment(name="preprocess").apply()
    ctx = StageContext.load()
    clip = tmp_path / "2023_0815_123456_000120F.MP4"
    shutil.copyfile(testdata_file("video/lanes/solidWhiteRight.mp4"), clip)
    clip_id = register_file(clip, ctx).clip_id
    earlier = set(_runs_of("preprocess"))  # the test server is shared by the session's tests

    def runs() -> list[str]:
        return [r for r in _runs_of("preprocess") if r not in earlier]

    queued = trigger("preprocess", clip_id, chain_key(ctx, clip_id, "ingest"))  # what chaining does

    assert reconcile(grace_s=0) == []  # only waiting: nothing to do
    assert runs() == [queued]

    with get_client(sync_client=True) as client:  # the run ends without the stage (its worker died)
        client.set_flow_run_state(queued, Crashed(message="worker lost"), force=True)
    (item,) = reconcile(grace_s=0)
    assert item["clip_id"] == clip_id and item["stage"] == "preprocess" and item["reason"] == "never started"
    assert item["flow_run_id"] != queued
    assert reconcile(grace_s=0) == []  # the next sweep finds the rerun queued
    assert runs() == sorted([queued, item["flow_run_id"]])
    with get_client(sync_client=True) as client:  # the rerun is lost too: the sweep tries once more
        client.set_flow_run_state(item["flow_run_id"], Crashed(message="worker lost"), force=True)
    (third,) = reconcile(grace_s=0)
    assert third["flow_run_id"] not in (queued, item["flow_run_id"])
    assert reconcile(grace_s=0) == []
    assert runs() == sorted([queued, item["flow_run_id"], third["flow_run_id"]])
