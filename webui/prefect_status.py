"""The pipeline as the Prefect API sees it: pools and their online workers, runs in flight, late/failed runs.

Runs on a worker thread with its own event loop (``run.io_bound``), with a timeout, and only when a
Prefect server is configured: in the embedded mode there is no server to ask (``get_client()`` would
start an in-process one), so the page says so instead.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

TIMEOUT_S = 5.0
RUN_LIMIT = 25


@dataclass
class RunInfo:
    id: str
    name: str
    flow: str
    state: str
    when: datetime | None
    reason: str


@dataclass
class PrefectStatus:
    ok: bool
    error: str | None = None
    pools: list[tuple[str, str, int, int]] = field(default_factory=list)  # name, type, online, workers
    in_flight: list[RunInfo] = field(default_factory=list)
    late_or_failed: list[RunInfo] = field(default_factory=list)


async def _read(api_url: str) -> PrefectStatus:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterId,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateName,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import FlowRun, StateType
    from prefect.client.schemas.sorting import FlowRunSort
    from prefect.settings import PREFECT_API_URL, temporary_settings

    out = PrefectStatus(ok=True)
    with temporary_settings({PREFECT_API_URL: api_url}):
        async with get_client() as client:
            for pool in await client.read_work_pools():
                workers = await client.read_workers_for_work_pool(pool.name)
                online = sum(1 for w in workers if str(getattr(w, "status", "")).upper().endswith("ONLINE"))
                out.pools.append((pool.name, pool.type, online, len(workers)))

            async def runs(flt: FlowRunFilter) -> list[FlowRun]:
                return await client.read_flow_runs(
                    flow_run_filter=flt, sort=FlowRunSort.START_TIME_DESC, limit=RUN_LIMIT
                )

            in_flight = await runs(
                FlowRunFilter(
                    state=FlowRunFilterState(
                        type=FlowRunFilterStateType(any_=[StateType.RUNNING, StateType.PENDING])
                    )
                )
            )
            late_or_failed = await runs(
                FlowRunFilter(
                    state=FlowRunFilterState(
                        name=FlowRunFilterStateName(any_=["Late", "Failed", "Crashed", "TimedOut"])
                    )
                )
            )
            # the names of these runs' flows only (a server may hold more flows than one page lists)
            flow_ids = sorted({r.flow_id for r in in_flight + late_or_failed}, key=str)
            flows: dict[Any, str] = {}
            if flow_ids:
                found = await client.read_flows(
                    flow_filter=FlowFilter(id=FlowFilterId(any_=flow_ids)), limit=len(flow_ids)
                )
                flows = {f.id: f.name for f in found}

            def info(r: FlowRun) -> RunInfo:
                return RunInfo(
                    id=str(r.id),
                    name=r.name,
                    flow=flows.get(r.flow_id, "?"),
                    state=(r.state.name or "?") if r.state else "?",
                    when=r.start_time or r.expected_start_time,
                    reason=(r.state.message or "") if r.state else "",
                )

            out.in_flight = [info(r) for r in in_flight]
            out.late_or_failed = [info(r) for r in late_or_failed]
    return out


def read_status(api_url: str | None) -> PrefectStatus:
    """Blocking (call through run.io_bound): the status, or why there is none."""
    if not api_url:
        return PrefectStatus(
            ok=False, error="No Prefect server configured (embedded mode): runs happen in-process."
        )
    try:
        return asyncio.run(asyncio.wait_for(_read(api_url), TIMEOUT_S))
    except TimeoutError:
        return PrefectStatus(
            ok=False, error=f"The Prefect API at {api_url} did not answer within {TIMEOUT_S:.0f} s."
        )
    except Exception as exc:  # noqa: BLE001 - any client/server failure is shown, never raised into the page
        return PrefectStatus(
            ok=False, error=f"The Prefect API at {api_url} failed: {type(exc).__name__}: {exc}"
        )
