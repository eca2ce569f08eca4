"""What the REST API adds from the Prefect API: flow run states and workers, or why it cannot.

Asked only when a Prefect server is configured (config ``prefect.api_url`` or PREFECT_API_URL), on the
caller's worker thread with its own event loop and a short timeout (DASHCAM_API_PREFECT_TIMEOUT_S,
default 3 s). A failure becomes ``available: false`` and a reason in the response, never a 500.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, Field

from dashcam.settings import read_env

T = TypeVar("T")


class PrefectInfo(BaseModel):
    """Whether the Prefect side of a response could be read."""

    configured: bool = Field(description="a Prefect server is configured (else: embedded, in-process runs)")
    available: bool = Field(description="the Prefect API answered")
    api_url: str | None = None
    error: str | None = Field(default=None, description="why the Prefect part is missing")


class WorkerOut(BaseModel):
    """A Prefect worker of a device's work pool."""

    name: str
    pool: str
    status: str | None = Field(default=None, description="ONLINE or OFFLINE, as Prefect reports it")
    last_heartbeat_time: datetime | None = Field(default=None, description="as Prefect reports it (UTC)")


def _timeout() -> float:
    return read_env().api_prefect_timeout_s


def _call(api_url: str | None, fn: Callable[[Any], Awaitable[T]]) -> tuple[T | None, PrefectInfo]:
    """Run ``fn(client)`` against the Prefect API (blocking; call from a worker thread)."""
    if not api_url:
        return None, PrefectInfo(
            configured=False, available=False, error="no Prefect server configured (embedded mode)"
        )

    async def go() -> T:
        from prefect.client.orchestration import get_client
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings({PREFECT_API_URL: api_url}):
            async with get_client() as client:
                return await fn(client)

    timeout = _timeout()
    try:
        return asyncio.run(asyncio.wait_for(go(), timeout)), PrefectInfo(
            configured=True, available=True, api_url=api_url
        )
    except TimeoutError:
        error = f"the Prefect API did not answer within {timeout:g} s"
    except Exception as exc:  # noqa: BLE001 - any client or server failure is reported, never raised
        error = (
            f"the Prefect API failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        )
    return None, PrefectInfo(configured=True, available=False, api_url=api_url, error=error)


def flow_run_states(api_url: str | None, ids: Iterable[str]) -> tuple[dict[str, str], PrefectInfo]:
    """State name per flow run id (ids that are not UUIDs are skipped)."""
    wanted = []
    for i in ids:
        try:
            wanted.append(uuid.UUID(i))
        except (ValueError, TypeError):
            continue

    async def read(client: Any) -> dict[str, str]:
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

        if not wanted:
            return {}
        runs = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=wanted)), limit=len(wanted)
        )
        return {str(r.id): r.state.name for r in runs if r.state is not None}

    found, info = _call(api_url, read)
    return found or {}, info


def workers(api_url: str | None, pools: Iterable[str]) -> tuple[dict[str, list[WorkerOut]], PrefectInfo]:
    """The workers of each pool that exists on the server."""
    names = sorted(set(pools))

    async def read(client: Any) -> dict[str, list[WorkerOut]]:
        from prefect.exceptions import ObjectNotFound

        out: dict[str, list[WorkerOut]] = {}
        for pool in names:
            try:
                found = await client.read_workers_for_work_pool(pool)
            except ObjectNotFound:
                out[pool] = []
                continue
            out[pool] = [
                WorkerOut(
                    name=w.name,
                    pool=pool,
                    status=str(getattr(w.status, "value", w.status)) if w.status is not None else None,
                    last_heartbeat_time=w.last_heartbeat_time,
                )
                for w in found
            ]
        return out

    found, info = _call(api_url, read)
    return found or {}, info


class PoolQueue(BaseModel):
    """A work pool's backlog, as the Prefect API counts it."""

    pool: str
    queued: int = Field(description="flow runs Scheduled or Pending (waiting for a worker)")
    late: int = Field(description="flow runs Late (scheduled time passed, no worker took them)")
    online_workers: int


def pool_queues(api_url: str | None, pools: Iterable[str]) -> tuple[list[PoolQueue], PrefectInfo]:
    """Queued and late flow runs and online workers of each pool that exists on the server."""
    names = sorted(set(pools))

    async def read(client: Any) -> list[PoolQueue]:
        from prefect.client.schemas.filters import (
            FlowRunFilter,
            FlowRunFilterState,
            FlowRunFilterStateName,
            WorkPoolFilter,
            WorkPoolFilterName,
        )
        from prefect.exceptions import ObjectNotFound

        out = []
        for pool in names:
            try:
                found = await client.read_workers_for_work_pool(pool)
            except ObjectNotFound:
                continue
            by_pool = WorkPoolFilter(name=WorkPoolFilterName(any_=[pool]))

            async def count(*states: str, by_pool: WorkPoolFilter = by_pool) -> int:
                state = FlowRunFilterState(name=FlowRunFilterStateName(any_=list(states)))
                return int(
                    await client.count_flow_runs(
                        flow_run_filter=FlowRunFilter(state=state), work_pool_filter=by_pool
                    )
                )

            online = sum(1 for w in found if str(getattr(w.status, "value", w.status)).upper() == "ONLINE")
            out.append(
                PoolQueue(
                    pool=pool,
                    queued=await count("Scheduled", "Pending"),
                    late=await count("Late"),
                    online_workers=online,
                )
            )
        return out

    found, info = _call(api_url, read)
    return found or [], info
