"""What every stage flow shares: the per-process stage context, retry rules, per-clip outcomes."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from prefect import Task, get_run_logger, task
from prefect.client.schemas.objects import TaskRun
from prefect.runtime import flow_run
from prefect.states import State

from dashcam.stages.context import ClipBusy, NotRetryable, StageContext
from dashcam.stages.jobs import DESCRIBE, first_line, run_each
from dashcam.storage import no_space
from flows.telling import failed_events

_CONTEXT: StageContext | None = None


def _with_blocks(ctx: StageContext) -> StageContext:
    """On a worker of a Prefect server: the shared storage mapping, the database secret and the archive key
    from blocks (a key in the worker's own environment or key file wins)."""
    import contextlib
    import dataclasses
    import os

    if not os.environ.get("PREFECT_API_URL"):
        return ctx
    from prefect.blocks.system import Secret

    from blocks.storage import ARCHIVE_KEY_SECRET, DATABASE_SECRET, STORAGE_BLOCK, DashcamStorage

    cfg = ctx.config
    # no such block: the device's own config must say where the shares are
    with contextlib.suppress(ValueError):
        cfg.shared_mounts = DashcamStorage.load(STORAGE_BLOCK).for_device(ctx.device)
    if not cfg.settings.database_url and not cfg.global_config.database.url:
        try:
            url = Secret.load(DATABASE_SECRET).get()
        except ValueError:
            url = None
        if url:
            from dashcam.secretmask import add_secret

            add_secret(url)  # its password is masked in every log line of this process
            cfg.settings = dataclasses.replace(cfg.settings, database_url=url)
    if not cfg.settings.archive_key and not cfg.global_config.encryption.archive_key_file:
        try:
            key = Secret.load(ARCHIVE_KEY_SECRET).get()
        except ValueError:
            key = None
        if key:
            cfg.settings = dataclasses.replace(cfg.settings, archive_key=key)
    return ctx


def stage_context() -> StageContext:
    """One context per worker process, so models load once; flows pass clip ids, never models."""
    global _CONTEXT
    if _CONTEXT is None:
        _CONTEXT = _with_blocks(StageContext.load())
    _CONTEXT.flow_run_id = str(flow_run.get_id() or "") or None
    return _CONTEXT


def reset_context() -> None:
    """Forget the cached context (tests switch configurations between runs)."""
    global _CONTEXT
    _CONTEXT = None


# Errors no retry can fix: bad input (NotRetryable) and bugs in our own code.
_PERMANENT = (NotRetryable, AttributeError, TypeError, NameError, ImportError, SyntaxError, AssertionError)


def retryable(task: Task[Any, Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Refuse retries that cannot help: a corrupt clip, a missing model or a bug stays broken, and a full
    disk stays full until someone frees space."""
    exc = state.data
    return not isinstance(exc, _PERMANENT) and not (isinstance(exc, BaseException) and no_space(exc))


def retry_options(ctx: StageContext) -> dict[str, Any]:
    g = ctx.config.global_config.global_
    return {"retries": g.task_retries, "retry_delay_seconds": g.task_retry_delay_seconds}


def cache_expiration(days: int) -> timedelta | None:
    return timedelta(days=days) if days > 0 else None


def outcome(clip_id: int, state: State[Any]) -> dict[str, Any]:
    """A clip's result, or its failure reason as one line: the batch goes on either way."""
    if state.is_completed():
        return {"clip_id": clip_id, "ok": True, **(state.result() or {})}
    exc = state.result(raise_on_failure=False)
    if isinstance(exc, BaseException) and str(exc).strip():
        reason = first_line(exc)
    else:
        reason = state.message or state.name or "failed"
    return {"clip_id": clip_id, "ok": False, "busy": isinstance(exc, ClipBusy), "error": reason}


NEXT_STAGE = {"ingest": "preprocess", "preprocess": "heavy", "heavy": "archive"}


def deployment_name(stage: str) -> str:
    """Deployments are named after their flow: ``<flow>/<flow>`` (see prefect.yaml)."""
    return f"{stage}/{stage}"


@task(
    name="trigger-next-stage", task_run_name="trigger-{stage}-{clip_ids}", retries=3, retry_delay_seconds=10
)
def trigger(stage: str, clip_ids: int | list[int], idempotency_key: str) -> str:
    """Start a stage's deployment for some clips; the same key twice starts it once."""
    from prefect.deployments import run_deployment

    ids = [clip_ids] if isinstance(clip_ids, int) else list(clip_ids)
    run = run_deployment(
        deployment_name(stage),
        parameters={"clip_ids": ids, "chain": True},
        timeout=0,
        as_subflow=False,
        idempotency_key=idempotency_key,
        tags=[clip_tag(c) for c in ids],
    )
    return str(run.id)


def clip_tag(clip_id: int) -> str:
    """The tag of every flow run started for a clip (the reconcile sweep finds them by it)."""
    return f"dashcam-clip-{clip_id}"


def batches(clip_ids: list[int], size: int) -> list[list[int]]:
    """``clip_ids`` in order, cut into as few runs as ``size`` allows, as even as possible (9 by 8: 5 + 4)."""
    if not clip_ids:
        return []
    n = -(-len(clip_ids) // max(1, size))
    step, extra = divmod(len(clip_ids), n)
    out, at = [], 0
    for i in range(n):
        take = step + (1 if i < extra else 0)
        out.append(clip_ids[at : at + take])
        at += take
    return out


def chain_next(stage: str, clip_ids: list[int]) -> None:
    """When a stage finished clips, run the next stage's deployment for them (pull-based: a worker takes it).

    Clips go on in batches of ``global.chain_batch_size``: each flow run costs its worker a new process,
    which on a small device is worth far more than the work of a short clip. Retries stay per clip (each
    clip is its own task in the run), and the reconcile sweep finds a batch's run by each clip's tag.
    """
    nxt = NEXT_STAGE.get(stage)
    if nxt is None or not clip_ids:
        return
    ctx = stage_context()
    size = ctx.config.global_config.global_.chain_batch_size
    for batch in batches(sorted(set(clip_ids)), size):
        # a duplicate event (same clips, same upstream results) maps to the same key: no duplicate run
        keys = [chain_key(ctx, clip_id, stage) for clip_id in batch]
        digest = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:40]
        trigger(nxt, batch, keys[0] if len(keys) == 1 else f"{nxt}:batch:{digest}")


def chain_key(ctx: StageContext, clip_id: int, done_stage: str) -> str:
    """The idempotency key of the run that chaining starts after ``done_stage`` finished a clip."""
    clip = ctx.clip(clip_id)
    return f"{NEXT_STAGE[done_stage]}:{clip.content_hash[:32]}:{stage_cache_key(ctx, clip_id, done_stage)}"


def clip_stage_runs(stage: str, clip_id: int) -> list[tuple[str, bool]]:
    """The flow runs of a stage's deployment started for one clip: (id, ended) each."""
    from prefect import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterName,
        FlowRunFilter,
        FlowRunFilterTags,
    )

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[clip_tag(clip_id)])),
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[stage])),
        )
    return [(str(r.id), r.state is not None and r.state.is_final()) for r in runs]


def task_cache_key(ctx: StageContext, clip_id: int, key_fn: Callable[[StageContext, str], str]) -> str:
    """A stage task's Prefect cache key: the stage key, tied to this registration of the clip.

    The result storage outlives a database (the user starts over with a new data folder, or two data
    folders share ~/.prefect): without the clip row's identity a cached result would claim work that
    this database has never seen, and the next stage would find no output.
    """
    clip = ctx.clip(clip_id)
    born = clip.created_at.isoformat() if clip.created_at else "?"
    ident = hashlib.sha256(f"{clip.id}|{born}".encode()).hexdigest()[:12]
    return f"{key_fn(ctx, clip.content_hash)}-{ident}"


def stage_cache_key(ctx: StageContext, clip_id: int, stage: str) -> str:
    from dashcam.db import crud
    from dashcam.db.session import session_scope

    with session_scope(ctx.engine) as s:
        run = crud.stage_status(session=s, clip_id=clip_id, stage=stage)
        return (run.cache_key or "") if run else ""


def run_clips(
    stage: str,
    clip_ids: list[int],
    task_fn: Any,
    *,
    chain: bool,
) -> list[dict[str, Any]]:
    """Run a stage's task for each clip (a failure never stops the batch), then chain the next stage."""
    results = run_each(
        stage,
        clip_ids,
        lambda clip_id: outcome(clip_id, task_fn(clip_id, return_state=True)),
        describe=DESCRIBE[stage],
        logger=get_run_logger(),
    )
    failed_events(stage, results)
    if chain:
        chain_next(stage, [r["clip_id"] for r in results if r["ok"]])
    return results
