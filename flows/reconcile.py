"""Reconcile flow (scheduled, any pool): restart clips whose worker died or whose chain event was lost.

Chaining normally moves a clip from stage to stage; this sweep is the safety net behind it. A stage
whose claim stopped being renewed (kill -9, power loss) is rerun from scratch on any worker of its pool;
its outputs are deterministic and idempotent, so the rerun gives the same rows as a clean run.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from dashcam.db.session import session_scope
from dashcam.stages.keys import pending_work
from flows.common import clip_stage_runs, stage_context, trigger


@flow(name="reconcile")
def reconcile(max_attempts: int = 5, grace_s: float = 600.0, dry_run: bool = False) -> list[dict[str, Any]]:
    """Find stalled clips and start their stage's deployment again (once per stalled attempt); returns
    what was (or, with ``dry_run``, would be) rerun."""
    log = get_run_logger()
    ctx = stage_context()
    with session_scope(ctx.engine) as s:
        todo = pending_work(s, max_attempts=max_attempts, grace_s=grace_s)
    out = []
    for item in todo:
        key = f"{item['stage']}:{item['hash'][:32]}:recover-{item['attempt']}"
        if item["attempt"] == 0:
            # "never started" may only mean "still queued": a busy pool holds chained runs for a long
            # time, and starting a second one would process the clip twice. Once every run for it has
            # ended without doing the stage, the next rerun gets a key of its own.
            runs = clip_stage_runs(item["stage"], item["clip_id"])
            if waiting := [r for r, ended in runs if not ended]:
                log.info(
                    "clip %s: %s queued or running (flow run %s)", item["clip_id"], item["stage"], waiting[0]
                )
                continue
            key += f"-{len(runs)}"
        log.warning("clip %s: %s %s: rerunning", item["clip_id"], item["stage"], item["reason"])
        if not dry_run:
            item["flow_run_id"] = trigger(item["stage"], item["clip_id"], key)
        out.append(item)
    return out
