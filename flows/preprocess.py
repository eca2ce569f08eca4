"""Preprocess flow (the `edge` pool: Jetson + Coral): which moments of each clip deserve the GPU."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.context import TaskRunContext

from dashcam.stages.preprocess import preprocess_key, run_preprocess
from flows.common import cache_expiration, outcome, retry_options, retryable, stage_context


def _cache_key(_ctx: TaskRunContext, params: dict[str, Any]) -> str:
    ctx = stage_context()
    return preprocess_key(ctx, ctx.clip(int(params["clip_id"])).content_hash)


@task(
    name="preprocess-clip",
    task_run_name="preprocess-{clip_id}",
    cache_key_fn=_cache_key,
    persist_result=True,
    retry_condition_fn=retryable,
)
def preprocess_clip(clip_id: int) -> dict[str, Any]:
    """Sample, gate and coarsely detect one clip; write its manifest and windows."""
    return run_preprocess(clip_id, stage_context()).as_dict()


@flow(name="preprocess", log_prints=False)
def preprocess(clip_ids: list[int]) -> list[dict[str, Any]]:
    """Run the cheap pass over each clip; a failed clip is reported and the others go on."""
    log = get_run_logger()
    ctx = stage_context()
    days = ctx.config.global_config.global_.storage_retention_days.preproc_data
    run = preprocess_clip.with_options(**retry_options(ctx), cache_expiration=cache_expiration(days))
    results = []
    for clip_id in clip_ids:
        res = outcome(clip_id, run(clip_id, return_state=True))
        if res["ok"]:
            log.info(
                "clip %s: %s window(s), %.1f s of %.1f s passed on",
                clip_id,
                res["windows"],
                res["seconds_passed"],
                res["duration_s"],
            )
        else:
            log.error("clip %s: preprocess failed: %s", clip_id, res["error"])
        results.append(res)
    return results
