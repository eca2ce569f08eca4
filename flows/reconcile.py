"""Reconcile flow (scheduled, any pool): restart clips whose worker died or whose chain event was lost.

Chaining normally moves a clip from stage to stage; this sweep is the safety net behind it. A stage
whose claim stopped being renewed (kill -9, power loss) is rerun from scratch on any worker of its pool;
its outputs are deterministic and idempotent, so the rerun gives the same rows as a clean run.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from dashcam.db.session import session_scope
from dashcam.pipeline import pending_work
from flows.common import stage_context, trigger


@flow(name="reconcile")
def reconcile(max_attempts: int = 5, grace_s: float = 600.0, dry_run: bool = False) -> list[dict[str, Any]]:
    """Find stalled clips and start their stage's deployment again (once per stalled attempt)."""
    log = get_run_logger()
    ctx = stage_context()
    with session_scope(ctx.engine) as s:
        todo = pending_work(s, max_attempts=max_attempts, grace_s=grace_s)
    for item in todo:
        log.warning("clip %s: %s %s: rerunning", item["clip_id"], item["stage"], item["reason"])
        if not dry_run:
            key = f"{item['stage']}:{item['hash'][:32]}:recover-{item['attempt']}"
            item["flow_run_id"] = trigger(item["stage"], item["clip_id"], key)
    return todo
