"""What every stage flow shares: the per-process stage context, retry rules, per-clip outcomes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from prefect import Task
from prefect.client.schemas.objects import TaskRun
from prefect.runtime import flow_run
from prefect.states import State

from dashcam.stages import NotRetryable, StageContext

_CONTEXT: StageContext | None = None


def stage_context() -> StageContext:
    """One context per worker process, so models load once; flows pass clip ids, never models."""
    global _CONTEXT
    if _CONTEXT is None:
        _CONTEXT = StageContext.load()
    _CONTEXT.flow_run_id = str(flow_run.get_id() or "") or None
    return _CONTEXT


def reset_context() -> None:
    """Forget the cached context (tests switch configurations between runs)."""
    global _CONTEXT
    _CONTEXT = None


def retryable(task: Task[Any, Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Refuse retries that cannot help: a corrupt clip or a missing model stays broken."""
    return not isinstance(state.data, NotRetryable)


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
    if isinstance(exc, BaseException) and str(exc):
        reason = str(exc).splitlines()[0]
    else:
        reason = state.message or state.name or "failed"
    return {"clip_id": clip_id, "ok": False, "error": reason}


# A process-local progress hook: the CLI installs one to draw progress bars; workers leave it unset.
_REPORTER: Callable[[str, int | None, str, str], None] | None = None


def set_reporter(fn: Callable[[str, int | None, str, str], None] | None) -> None:
    global _REPORTER
    _REPORTER = fn


def report(stage: str, clip_id: int | None, name: str, what: str) -> None:
    """Tell the local progress display (if any) that a clip moved on."""
    if _REPORTER is not None:
        _REPORTER(stage, clip_id, name, what)
