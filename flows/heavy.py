"""Heavy flow (the `gpu` pool: RTX box): detection, tracking, plates and GPS tags of every sighting."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

from prefect import flow, task
from prefect.context import TaskRunContext

from dashcam.stages.heavy.record import heavy_key, run_heavy
from dashcam.stages.jobs import report
from flows.common import (
    cache_expiration,
    retry_options,
    retryable,
    run_clips,
    stage_context,
    task_cache_key,
)
from flows.telling import heavy_artifacts, progress_reporter

LONG_CLIP_S = 60.0  # clips at least this long get a progress artifact


def _cache_key(_ctx: TaskRunContext, params: dict[str, Any]) -> str:
    return task_cache_key(stage_context(), int(params["clip_id"]), heavy_key)


@task(
    name="heavy-clip",
    task_run_name="heavy-{clip_id}",
    cache_key_fn=_cache_key,
    persist_result=True,
    retry_condition_fn=retryable,
)
def heavy_clip(clip_id: int) -> dict[str, Any]:
    """Detect, track, read plates and tag GPS for one clip; write its sightings and media."""
    from prefect.concurrency.sync import concurrency

    from blocks.setup import gpu_slot_name

    ctx = stage_context()
    # one heavy run at a time per GPU device (`dashcam setup` makes the slot); a CPU machine needs none
    slot = (
        concurrency(gpu_slot_name(ctx.device), occupy=1, strict=False)
        if ctx.config.device.gpu
        else nullcontext()
    )
    clip = ctx.clip(clip_id)
    # a long clip shows how far it is in the Prefect UI as it goes
    progress = (
        progress_reporter(f"heavy: {clip.file_name}") if (clip.duration_s or 0) >= LONG_CLIP_S else None
    )
    with slot:
        res = run_heavy(clip_id, ctx, on_progress=progress)
    report("heavy", clip_id, str(clip_id), f"{res.sightings} sighting(s)")
    return res.as_dict()


@flow(name="heavy")
def heavy(clip_ids: list[int], chain: bool = False) -> list[dict[str, Any]]:
    """Run the heavy stage over each clip; a failed clip is reported and the others go on."""
    ctx = stage_context()
    days = ctx.config.global_config.global_.storage_retention_days.heavy_output
    run = heavy_clip.with_options(**retry_options(ctx), cache_expiration=cache_expiration(days))
    results = run_clips("heavy", clip_ids, run, chain=chain)
    heavy_artifacts(ctx, results)
    return results
