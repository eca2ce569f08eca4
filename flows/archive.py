"""Archive flow (the `archive` pool: shed NAS): move each clip's web media to the archive, verified."""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from dashcam.stages.archive.record import run_archive
from dashcam.stages.jobs import report
from flows.common import retry_options, retryable, run_clips, stage_context
from flows.telling import archive_artifact


# No Prefect cache: the stage itself skips a done clip, and a cached result would hide media that a
# heavy rerun has added since.
@task(
    name="archive-clip",
    task_run_name="archive-{clip_id}",
    cache_policy=NO_CACHE,
    retry_condition_fn=retryable,
)
def archive_clip(clip_id: int) -> dict[str, Any]:
    """Copy, verify and move one clip's web media from heavy_output to the archive."""
    res = run_archive(clip_id, stage_context())
    report("archive", clip_id, str(clip_id), "skipped" if res.skipped else f"{res.archived} file(s) archived")
    return res.as_dict()


@flow(name="archive")
def archive(clip_ids: list[int], chain: bool = False) -> list[dict[str, Any]]:
    """Archive each clip; a failed clip is reported and the others go on."""
    run = archive_clip.with_options(**retry_options(stage_context()))
    results = run_clips("archive", clip_ids, run, chain=chain)
    archive_artifact(results)
    return results
