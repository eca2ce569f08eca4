"""``GET /tasks``: the pipeline's work per clip and stage, from ``stage_run`` rows plus Prefect's run states."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlmodel import Session, col

from dashcam.db.models import Clip, StageRun
from webui import state
from webui.api import prefect
from webui.api.common import UtcTime, as_utc, invalid
from webui.api.security import ERRORS, Reader

router = APIRouter(tags=["tasks"])
Status = Literal["queued", "running", "done", "failed", "skipped"]


class TaskOut(BaseModel):
    """One stage of one clip: its latest state (``attempts`` counts tries, ``retries`` the extra ones)."""

    id: int
    clip_id: int
    file_name: str
    stage: str
    version: str
    status: str = Field(description="queued, running, done, failed or skipped")
    error: str | None = Field(description="why it failed")
    attempts: int
    retries: int
    device: str | None
    flow_run_id: str | None
    prefect_state: str | None = Field(
        default=None, description="the flow run's state in Prefect, when readable"
    )
    started_at: UtcTime
    finished_at: UtcTime
    duration_s: float | None
    lease_until: UtcTime


class TasksPage(BaseModel):
    """One page of tasks, most recent first."""

    total: int
    offset: int
    limit: int
    items: list[TaskOut]
    prefect: prefect.PrefectInfo


def task_out(run: StageRun, file_name: str) -> TaskOut:
    """The API's view of a stage-run row."""
    assert run.id is not None
    return TaskOut(
        id=run.id,
        clip_id=run.clip_id,
        file_name=file_name,
        stage=run.stage,
        version=run.version,
        status=run.status,
        error=run.error,
        attempts=run.attempts,
        retries=max(0, run.attempts - 1),
        device=run.device,
        flow_run_id=run.flow_run_id,
        started_at=run.started_at,
        finished_at=run.finished_at,
        duration_s=run.duration_s,
        lease_until=run.lease_until,
    )


def list_tasks(
    *,
    session: Session,
    stage: str | None,
    status: str | None,
    device: str | None,
    clip_id: int | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    offset: int,
) -> tuple[int, list[TaskOut]]:
    """Matching stage runs, newest activity first, and how many match in all."""
    when = func.coalesce(col(StageRun.finished_at), col(StageRun.started_at))
    where = []
    if stage:
        where.append(col(StageRun.stage) == stage)
    if status:
        where.append(col(StageRun.status) == status)
    if device:
        where.append(col(StageRun.device) == device)
    if clip_id is not None:
        where.append(col(StageRun.clip_id) == clip_id)
    if since:
        where.append(when >= since)
    if until:
        where.append(when < until)
    total = session.execute(select(func.count()).select_from(StageRun).where(*where)).scalar_one()
    rows = session.execute(
        select(StageRun, col(Clip.file_name))
        .join(Clip, col(Clip.id) == col(StageRun.clip_id))
        .where(*where)
        .order_by(when.desc().nulls_first(), col(StageRun.id).desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return int(total), [task_out(run, name) for run, name in rows]


def with_prefect_states(items: list[TaskOut]) -> prefect.PrefectInfo:
    """Fill ``prefect_state`` of rows with a flow run id; say so when Prefect cannot be read."""
    ids = [t.flow_run_id for t in items if t.flow_run_id]
    states, info = prefect.flow_run_states(state.get().prefect_api_url, ids)
    for t in items:
        if t.flow_run_id:
            t.prefect_state = states.get(t.flow_run_id)
    return info


@router.get("/tasks", response_model=TasksPage, responses=ERRORS)
def get_tasks(
    _: Reader,
    stage: Annotated[
        str | None, Query(max_length=32, description="ingest, preprocess, heavy, archive")
    ] = None,
    status: Annotated[Status | None, Query(description="queued, running, done, failed, skipped")] = None,
    device: Annotated[str | None, Query(max_length=255, description="hostname that ran it")] = None,
    clip_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    since: Annotated[datetime | None, Query(description="finished (else started) at or after")] = None,
    until: Annotated[datetime | None, Query(description="finished (else started) before")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
) -> TasksPage:
    """The pipeline's work per clip and stage, filterable and paginated, with Prefect's view when reachable."""
    if since and until and as_utc(since, "since") >= as_utc(until, "until"):  # type: ignore[operator]
        invalid(("query", "until"), "until must be after since")
    total, items = state.in_session(
        list_tasks,
        stage=stage,
        status=status,
        device=device,
        clip_id=clip_id,
        since=as_utc(since, "since"),
        until=as_utc(until, "until"),
        limit=limit,
        offset=offset,
    )
    info = with_prefect_states(items)
    return TasksPage(total=total, offset=offset, limit=limit, items=items, prefect=info)
