"""Preprocess flow (the `edge` pool: Jetson + Coral): which moments of each clip deserve the GPU."""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.context import TaskRunContext

from dashcam.stages.jobs import report
from dashcam.stages.preprocess.record import preprocess_key, run_preprocess
from flows.common import (
    cache_expiration,
    retry_options,
    retryable,
    run_clips,
    stage_context,
    task_cache_key,
)
from flows.telling import preprocess_artifact


def _cache_key(_ctx: TaskRunContext, params: dict[str, Any]) -> str:
    return task_cache_key(stage_context(), int(params["clip_id"]), preprocess_key)


@task(
    name="preprocess-clip",
    task_run_name="preprocess-{clip_id}",
    cache_key_fn=_cache_key,
    persist_result=True,
    retry_condition_fn=retryable,
)
def preprocess_clip(clip_id: int) -> dict[str, Any]:
    """Sample, gate and coarsely detect one clip; write its manifest and windows."""
    res = run_preprocess(clip_id, stage_context())
    report("preprocess", clip_id, str(clip_id), f"{res.windows} window(s)")
    return res.as_dict()


@flow(name="preprocess")
def preprocess(clip_ids: list[int], chain: bool = False) -> list[dict[str, Any]]:
    """Run the cheap pass over each clip; a failed clip is reported and the others go on."""
    ctx = stage_context()
    days = ctx.config.global_config.global_.storage_retention_days.preproc_data
    run = preprocess_clip.with_options(**retry_options(ctx), cache_expiration=cache_expiration(days))
    results = run_clips("preprocess", clip_ids, run, chain=chain)
    preprocess_artifact(results)
    return results
