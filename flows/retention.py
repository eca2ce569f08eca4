"""Retention flow (the `archive` pool, daily): delete what storage_retention_days and the quota allow.

The rules live in :mod:`dashcam.stages.retention`. Deployed on a daily schedule (``DAILY_CRON``); run it by hand
with ``dashcam retention [--dry-run]``, or ``python -m flows.retention`` to serve it on that schedule.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from dashcam.stages.retention import apply as deleting
from dashcam.stages.retention import plan as planning
from flows.common import stage_context
from flows.telling import retention_artifact

DAILY_CRON = "30 3 * * *"  # after the night's ingest and processing, before anyone looks in the morning


@task(name="plan-retention", cache_policy=NO_CACHE)
def plan_retention() -> dict[str, Any]:
    """List the files that may go now (by age and quota) and what the rules keep."""
    return planning.plan(stage_context()).as_dict()


@task(name="delete-files", cache_policy=NO_CACHE)
def delete_files(plan: dict[str, Any]) -> dict[str, Any]:
    """Delete the planned files, re-checking the rules per file, and record each outcome."""
    return deleting.apply(stage_context(), planning.Plan.from_dict(plan)).as_dict()


@flow(name="retention")
def retention(dry_run: bool = False) -> dict[str, Any]:
    """Delete old raw clips, preprocess data and heavy output within the rules; report files and bytes."""
    log = get_run_logger()
    plan = plan_retention()
    if not dry_run:
        plan = delete_files(plan)
    doc = deleting.summary(planning.Plan.from_dict(plan), dry_run=dry_run)
    retention_artifact(doc)
    verb = "would delete" if dry_run else "deleted"
    log.info("retention %s %d file(s), %d byte(s)", verb, doc["files"], doc["bytes"])
    for f in doc["failed"]:
        log.warning("could not delete %s/%s: %s (tried again next run)", f["area"], f["key"], f["error"])
    for note in doc["notes"]:
        log.warning("%s", note)
    return doc


if __name__ == "__main__":
    retention.serve(name="daily", cron=DAILY_CRON)
