"""Chaining under a real (test) Prefect server: finished clips go on to the next stage's deployment in
batches (one flow run, one worker process, for several clips), each run tagged with every clip it carries;
the same event twice starts nothing new, and the reconcile sweep sees each batched clip as queued."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName

from dashcam.stages.ingest.record import register_file
from flows.common import batches
from tests.support import testdata_file


def _preprocess_runs() -> list[Any]:
    with get_client(sync_client=True) as client:
        return client.read_flow_runs(
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=["preprocess"]))
        )


def _forget(earlier: set[Any]) -> None:
    """Delete this test's queued runs: clip ids restart at 1 in each test's database, and the reconcile
    test sharing this server must not find them under its clip's tag."""
    with get_client(sync_client=True) as client:
        for r in _preprocess_runs():
            if r.id not in earlier:
                client.delete_flow_run(r.id)


def test_batches_are_as_even_as_the_size_allows() -> None:
    assert batches([], 8) == []
    assert batches([1, 2, 3], 8) == [[1, 2, 3]]
    assert batches(list(range(9)), 8) == [[0, 1, 2, 3, 4], [5, 6, 7, 8]]
    assert batches(list(range(16)), 8) == [list(range(8)), list(range(8, 16))]
    assert batches([4, 5, 6], 1) == [[4], [5], [6]]
    ids = list(range(203))
    cut = batches(ids, 8)
    assert sum(cut, []) == ids and len(cut) == 26 and {len(b) for b in cut} == {7, 8}


def test_finished_clips_chain_in_batches_once(
    pipeline_env: Path, prefect_harness: None, tmp_path: Path
) -> None:
    from flows.common import chain_next, clip_tag, stage_context
    from flows.preprocess import preprocess
    from flows.reconcile import reconcile

    # the preprocess deployment with no worker: its runs stay scheduled, so they can be inspected
    preprocess.to_deployment(name="preprocess").apply()
    ctx = stage_context()
    ctx.config.global_config.global_.chain_batch_size = 2
    source = testdata_file("video/highway/test_video.mp4").read_bytes()
    ids = []
    for i in range(3):
        clip = tmp_path / f"2023_0815_12000{i}_00013{i}F.MP4"
        clip.write_bytes(source + (12).to_bytes(4, "big") + b"free" + f"b{i:03d}".encode())
        ids.append(register_file(clip, ctx).clip_id)

    earlier = {r.id for r in _preprocess_runs()}  # the test server is shared by the session's tests

    def runs() -> list[tuple[list[int], set[str]]]:
        return sorted(
            (r.parameters["clip_ids"], set(r.tags)) for r in _preprocess_runs() if r.id not in earlier
        )

    chain_next("ingest", ids)
    first = runs()
    assert [clip_ids for clip_ids, _ in first] == [ids[:2], ids[2:]]
    for clip_ids, tags in first:
        assert {clip_tag(c) for c in clip_ids} <= tags

    chain_next("ingest", list(reversed(ids)))  # the same event again (in any order): no new run
    assert runs() == first
    assert reconcile(grace_s=0) == []  # every clip's run is queued: nothing to restart
    _forget(earlier)


def test_a_batch_size_of_one_keeps_one_run_per_clip(
    pipeline_env: Path, prefect_harness: None, tmp_path: Path
) -> None:
    from flows.common import chain_key, chain_next, stage_context
    from flows.preprocess import preprocess

    preprocess.to_deployment(name="preprocess").apply()
    ctx = stage_context()
    ctx.config.global_config.global_.chain_batch_size = 1
    clip = tmp_path / "2023_0815_121000_000140F.MP4"
    clip.write_bytes(testdata_file("video/lanes/solidWhiteRight.mp4").read_bytes() + b"\0\0\0\x0cfreeone1")
    clip_id = register_file(clip, ctx).clip_id
    earlier = {r.id for r in _preprocess_runs()}
    chain_next("ingest", [clip_id])
    found = [r for r in _preprocess_runs() if r.id not in earlier]
    assert [r.parameters["clip_ids"] for r in found] == [[clip_id]]
    assert found[0].idempotency_key == chain_key(ctx, clip_id, "ingest")
    _forget(earlier)
